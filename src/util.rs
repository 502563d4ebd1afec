//! Small helpers with one home each.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering the guard if a panic poisoned it.
///
/// Every lock in zocket guards state that a panicking holder cannot leave in
/// a shape worse than stopping the whole server would: the panic itself is
/// caught and logged where it happened, so the next holder carries on.
pub(crate) fn lock_unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// 16 random bytes from the operating system's CSPRNG (`getrandom`: the
/// `getrandom` syscall, `BCryptGenRandom`, `getentropy`, ... on each
/// platform), for session tokens and any other secret. Fails closed: `None`
/// when the generator cannot be read, never a weaker stand-in.
pub(crate) fn random_bytes() -> Option<[u8; 16]> {
    random_bytes_from(getrandom::fill)
}

/// [`random_bytes`] from `fill` (the OS generator, or a failing one in tests).
pub(crate) fn random_bytes_from<E>(
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    fill(&mut out).ok()?;
    Some(out)
}

/// FNV-1a, 64 bits: stable across platforms and releases (unlike `std`'s
/// hasher); for fingerprints and digests, not for security.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The message of a caught panic, for the log.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

/// Holds type parameters without owning anything (`Send + Sync` whatever they are).
pub(crate) type Types<T> = std::marker::PhantomData<fn() -> T>;

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_come_from_the_os_generator_and_fail_closed() {
        // Distinct draws (128 bits each), from getrandom.
        let a = random_bytes().expect("the OS generator answers here");
        let b = random_bytes().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 16]);
        // A generator that fails gives no secret at all: no fallback.
        assert_eq!(random_bytes_from(|_| Err("no entropy")), None);
        // And what `fill` writes is what is used.
        assert_eq!(
            random_bytes_from(|buf: &mut [u8]| {
                buf.fill(7);
                Ok::<(), ()>(())
            }),
            Some([7u8; 16])
        );
    }

    use super::*;

    #[test]
    fn panic_messages_of_every_payload() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42u8), "non-string panic");
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison");
        })
        .join();
        assert!(m.is_poisoned());
        *lock_unpoisoned(&m) += 1;
        assert_eq!(*lock_unpoisoned(&m), 2);
    }
}

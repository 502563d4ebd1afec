//! The app's state on the builder: [`Builder::state`], one value every
//! connection shares, typed into every handler's context.

use std::sync::Arc;

use crate::app::builder::Builder;

/// A builder that has no app state yet and no handler: where [`Builder::state`] goes.
///
/// You never implement or name it; it is here so that calling `.state(..)`
/// too late, or twice, reads as a sentence.
#[diagnostic::on_unimplemented(
    message = "`.state(..)` must come before the first `.on(..)`, and only once",
    label = "handlers are registered on this builder, or it has a state already",
    note = "handlers receive `Ctx<Router, Data, State>`: call `.state(..)` right after `Zocket::builder()`"
)]
pub trait BeforeState<R, U> {
    #[doc(hidden)]
    fn stateless(self) -> Builder<R, U, R, ()>;
}

impl<R, U> BeforeState<R, U> for Builder<R, U, R, ()> {
    fn stateless(self) -> Self {
        self
    }
}

impl<R, U, S> Builder<R, U, S, ()>
where
    R: 'static,
{
    /// Sets the app's state: one value every connection shares (a database
    /// pool, caches, the app's maps behind their locks), read in handlers
    /// with [`Ctx::state`](crate::Ctx::state), whose type becomes `Ctx<Router, Data, A2>` (a
    /// type alias keeps signatures short). Call it right after
    /// [`Zocket::builder`](crate::Zocket::builder), before any handler; it is checked at compile
    /// time that handlers take the state type set here.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use zocket::{Ctx, HandlerResult, Incoming, Zocket};
    /// # struct Hit; impl Incoming for Hit { const NAME: &'static str = "hit"; type Payload = (); }
    /// # type AppRouter = (Hit, ());
    ///
    /// #[derive(Default)]
    /// struct App { hits: Mutex<u64> }
    /// type C = Ctx<AppRouter, (), App>;
    ///
    /// async fn hit(_: (), ctx: C) -> HandlerResult {
    ///     *ctx.state().hits.lock().unwrap() += 1;
    ///     Ok(())
    /// }
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .state(App::default())
    ///     .on(Hit, hit)
    ///     .build()
    ///     .unwrap();
    /// # let _ = app;
    /// ```
    pub fn state<A2>(self, state: A2) -> Builder<R, U, R, A2>
    where
        Self: BeforeState<R, U>,
        A2: Send + Sync + 'static,
    {
        self.stateless().with_state(Arc::new(state))
    }
}

//! Scope-wide guards: one middleware in front of every handler of a scope,
//! checked at compile time like any chain.

use std::marker::PhantomData;

use crate::app::builder::Builder;
use crate::app::handler::Handler;
use crate::app::middleware::{Middleware, MiddlewareExt};
use crate::protocol::route::{Incoming, Namespace, Request, Scope};
use crate::protocol::router::{Contains, MarkHandled};

/// Registers the handlers of one scope's routes, each behind the scope's
/// guard. Made by [`Builder::scope`]; you never name it.
///
/// `N` is the scope's namespace, `Sub` its router (inferred from `R`), `G`
/// the guard.
#[must_use = "return it from the closure given to .scope(..)"]
pub struct ScopedBuilder<R, U, S, N, Sub, G> {
    builder: Builder<R, U, S>,
    guard: G,
    _scope: PhantomData<fn() -> (N, Sub)>,
}

impl<R, U, S> Builder<R, U, S>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// Registers the handlers of the routes under `Scope<N, _>` behind one
    /// `guard`: every handler registered in `routes` gets the guard's output
    /// as its context data, and the compiler checks that each route is inside
    /// that scope and that the guard runs with the connection's data and the
    /// route's payload.
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, Namespace, Reject, Scope, Zocket};
    /// # #[derive(Serialize, Deserialize, Validate)]
    /// # struct Target { #[garde(length(min = 1))] name: String }
    /// #[derive(Clone)]
    /// struct User { admin: bool }
    /// struct Admin;
    ///
    /// #[derive(Clone)]
    /// struct RequireAdmin;
    /// impl<P: Sync> Middleware<User, P> for RequireAdmin {
    ///     type Out = Admin;
    ///     async fn call(&self, user: User, _: &P, _: &Conn) -> Result<Admin, Reject> {
    ///         if user.admin { Ok(Admin) } else { Err(Reject::forbidden("admins only")) }
    ///     }
    /// }
    ///
    /// struct AdminNs;
    /// impl Namespace for AdminNs { const NAME: &'static str = "admin"; }
    /// struct Ban;
    /// impl Incoming for Ban { const NAME: &'static str = "ban"; type Payload = Target; }
    /// struct Kick;
    /// impl Incoming for Kick { const NAME: &'static str = "kick"; type Payload = Target; }
    /// type AppRouter = (Scope<AdminNs, (Ban, (Kick, ()))>, ());
    ///
    /// async fn ban(_: Target, _: Ctx<AppRouter, Admin>) -> HandlerResult { Ok(()) }
    /// async fn kick(_: Target, _: Ctx<AppRouter, Admin>) -> HandlerResult { Ok(()) }
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .on_connect(|_: (), _| async { Ok(User { admin: false }) })
    ///     .scope(AdminNs, RequireAdmin, |admin| admin.on(Ban, ban).on(Kick, kick))
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn scope<N, Sub, J, G, S2, F>(self, namespace: N, guard: G, routes: F) -> Builder<R, U, S2>
    where
        N: Namespace,
        R: Contains<Scope<N, Sub>, J>,
        G: Clone + Send + Sync + 'static,
        F: FnOnce(ScopedBuilder<R, U, S, N, Sub, G>) -> ScopedBuilder<R, U, S2, N, Sub, G>,
    {
        let _ = namespace;
        let scoped = routes(ScopedBuilder {
            builder: self,
            guard,
            _scope: PhantomData,
        });
        scoped.builder
    }
}

impl<R, U, S, N, Sub, G> ScopedBuilder<R, U, S, N, Sub, G>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
    G: Clone + Send + Sync + 'static,
{
    /// Registers the handler of incoming route `route` of this scope, behind
    /// the scope's guard: `handler` takes `Ctx<R, G::Out>`.
    pub fn on<X, I, K, H>(self, route: X, handler: H) -> ScopedBuilder<R, U, S::Out, N, Sub, G>
    where
        X: Incoming,
        Sub: Contains<X, K>,
        S: MarkHandled<X, I>,
        G: Middleware<U, X::Payload>,
        H: Handler<R, X::Payload, <G as Middleware<U, X::Payload>>::Out>,
    {
        let guarded = self.guard.clone().then(handler);
        ScopedBuilder {
            builder: self.builder.on(route, guarded),
            guard: self.guard,
            _scope: PhantomData,
        }
    }

    /// Registers the handler of request route `route` of this scope, behind
    /// the scope's guard.
    pub fn on_request<X, I, K, H>(
        self,
        route: X,
        handler: H,
    ) -> ScopedBuilder<R, U, S::Out, N, Sub, G>
    where
        X: Request,
        Sub: Contains<X, K>,
        S: MarkHandled<X, I>,
        G: Middleware<U, X::Payload>,
        H: Handler<R, X::Payload, <G as Middleware<U, X::Payload>>::Out, X::Response>,
    {
        let guarded = self.guard.clone().then(handler);
        ScopedBuilder {
            builder: self.builder.on_request(route, guarded),
            guard: self.guard,
            _scope: PhantomData,
        }
    }
}

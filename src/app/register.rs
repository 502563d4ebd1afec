//! Registering handlers: [`Builder::on`] and [`Builder::on_request`], each
//! a typestate step that marks its route in the handler state (so a missing
//! or second handler is a compile error) and asks of the route's payloads
//! what the server does with them.

use crate::app::builder::Builder;
use crate::app::handler::{ConnectionData, Handler, MessageEntry, RequestEntry};
use crate::protocol::route::marker_name;
use crate::protocol::route::{Incoming, Request, ServerReceives, ServerSends};
use crate::protocol::router::{MarkHandled, marked_wire_name};

impl<R, U, S, A> Builder<R, U, S, A>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
    A: Send + Sync + 'static,
{
    /// Registers the handler for incoming route `route`.
    ///
    /// Compile errors, in plain words: `route` must be an incoming route of `R`
    /// (at any depth), must not have a handler yet, and `handler` must take
    /// `route`'s payload and a `Ctx<R, U>` (through its middleware chain).
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// use zocket::{Ctx, HandlerResult, Incoming, Zocket};
    /// # #[derive(Serialize, Deserialize, Validate)]
    /// # struct Text { #[garde(length(min = 1))] text: String }
    /// struct Post;
    /// impl Incoming for Post {
    ///     const NAME: &'static str = "post";
    ///     type Payload = Text;
    /// }
    /// type AppRouter = (Post, ());
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .on(Post, |msg: Text, ctx: Ctx<AppRouter>| async move {
    ///         println!("{} posted {}", ctx.id(), msg.text);
    ///         Ok(())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(app.routes()[0].name, "post");
    /// ```
    ///
    /// Leaving the `.on(..)` out is a compile error:
    ///
    /// ```compile_fail
    /// # use zocket::{Incoming, Zocket};
    /// # struct Post;
    /// # impl Incoming for Post { const NAME: &'static str = "post"; type Payload = (); }
    /// let app = Zocket::<(Post, ())>::builder().build(); // no handler for incoming route `Post`
    /// ```
    pub fn on<X, I, H, D>(self, route: X, handler: H) -> Builder<R, U, S::Out, A>
    where
        X: Incoming,
        X::Payload: ServerReceives<X>,
        S: MarkHandled<X, I>,
        U: ConnectionData<D>,
        H: Handler<R, X::Payload, D, (), A>,
        D: 'static,
    {
        let _ = route;
        // One lookup: marking the route in the handler state (whose scopes
        // are the router's) also writes its wire name.
        self.register(
            marked_wire_name::<S, X, I>(marker_name!(X)),
            Box::new(MessageEntry::<R, X, H, A, D>::new(handler)),
        )
    }

    /// Registers the handler for request route `route`: it answers with the
    /// route's `Response`, which is validated and sent to the requesting client
    /// on `"$zocket.reply"` with the request's `id`. Middleware works as for
    /// [`Builder::on`] (`mw.then(handler)`).
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// use zocket::{Ctx, HandlerError, Request, Zocket};
    /// # #[derive(Serialize, Deserialize, Validate)]
    /// # struct Num { #[garde(skip)] n: i64 }
    /// struct Double;
    /// impl Request for Double {
    ///     const NAME: &'static str = "double";
    ///     type Payload = Num;
    ///     type Response = Num;
    /// }
    /// type AppRouter = (Double, ());
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .on_request(Double, |x: Num, _ctx: Ctx<AppRouter>| async move {
    ///         Ok::<_, HandlerError>(Num { n: x.n * 2 })
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn on_request<X, I, H, D>(self, route: X, handler: H) -> Builder<R, U, S::Out, A>
    where
        X: Request,
        X::Payload: ServerReceives<X>,
        X::Response: ServerSends<X>,
        S: MarkHandled<X, I>,
        H: Handler<R, X::Payload, D, X::Response, A>,
        U: ConnectionData<D>,
        D: 'static,
    {
        let _ = route;
        self.register(
            marked_wire_name::<S, X, I>(marker_name!(X)),
            Box::new(RequestEntry::<R, X, H, A, D>::new(handler)),
        )
    }
}

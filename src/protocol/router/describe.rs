//! [`Describe`]: a second walk of a router that also collects the JSON Schema
//! of every payload (feature `schema`). It is separate from [`Router`] so the
//! `JsonSchema` bound is asked only of apps that export their contract.

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::index::{
    AsClientRequest, AsIncoming, AsOutgoing, AsRequest, AsScope, Chunk, Flat, Rest,
};
use super::walk::{Direction, Router};
use crate::protocol::route::{ClientRequest, Incoming, Namespace, Outgoing, Request, Scope};

/// One route with the schemas of what it carries.
#[derive(Debug, Clone)]
pub(crate) struct DescribedRoute {
    pub(crate) name: String,
    pub(crate) direction: Direction,
    pub(crate) payload: Schema,
    pub(crate) response: Option<Schema>,
}

mod private {
    /// The state of a describing walk; in every signature, so it seals the traits.
    pub struct Describer<'a> {
        pub(crate) prefix: String,
        pub(crate) generator: &'a mut schemars::SchemaGenerator,
        pub(crate) routes: Vec<crate::protocol::router::describe::DescribedRoute>,
    }
}
pub(crate) use private::Describer;

impl Describer<'_> {
    fn push(
        &mut self,
        name: &str,
        direction: Direction,
        payload: Schema,
        response: Option<Schema>,
    ) {
        self.routes.push(DescribedRoute {
            name: format!("{}{name}", self.prefix),
            direction,
            payload,
            response,
        });
    }
    fn schema<T: JsonSchema>(&mut self) -> Schema {
        self.generator.subschema_for::<T>()
    }
}

/// A router whose every payload (and response) has a JSON Schema: what
/// [`Contract::of`](crate::contract::Contract::of) needs.
#[diagnostic::on_unimplemented(
    message = "the contract of `{Self}` cannot be exported: a payload has no JSON Schema",
    label = "a route's payload (or response) does not implement `schemars::JsonSchema`",
    note = "derive `schemars::JsonSchema` next to `Serialize, Deserialize, Validate` on every payload type; the route is named in the error below"
)]
pub trait Describe<Shape>: Router<Shape> {
    #[doc(hidden)]
    fn describe(describer: &mut Describer<'_>);
}

/// One element of a router, described. `Kind` is inferred.
#[diagnostic::on_unimplemented(
    message = "the payload of route `{Self}` has no JSON Schema",
    label = "its payload (or response) does not implement `schemars::JsonSchema`",
    note = "derive `schemars::JsonSchema` on the payload type (feature `schema`)"
)]
pub trait DescribeNode<Kind> {
    #[doc(hidden)]
    fn describe(describer: &mut Describer<'_>);
}

macro_rules! describe_rest {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)*> Describe<Rest<nest!($($k)* ; ())>> for nest!($($a)* ; ())
        where
            Self: Router<Rest<nest!($($k)* ; ())>>,
            $($a: DescribeNode<$k>,)*
        {
            #[allow(unused_variables)]
            fn describe(describer: &mut Describer<'_>) {
                $($a::describe(describer);)*
            }
        }
    };
}
for_each_rest!(describe_rest);

macro_rules! describe_chunk {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)* T, P> Describe<Chunk<nest!($($k)* ; ()), P>> for nest!($($a)* ; T)
        where
            Self: Router<Chunk<nest!($($k)* ; ()), P>>,
            $($a: DescribeNode<$k>,)*
            T: Describe<P>,
        {
            fn describe(describer: &mut Describer<'_>) {
                $($a::describe(describer);)*
                T::describe(describer);
            }
        }
    };
}
with_chunk!(describe_chunk);

macro_rules! describe_flat {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)*> Describe<Flat<($($k,)*)>> for ($($a,)*)
        where
            Self: Router<Flat<($($k,)*)>>,
            $($a: DescribeNode<$k>,)*
        {
            fn describe(describer: &mut Describer<'_>) {
                $($a::describe(describer);)*
            }
        }
    };
}
for_each_flat!(describe_flat);
describe_flat!(A0 K0, A1 K1,);

impl<X: Incoming> DescribeNode<AsIncoming> for X
where
    X::Payload: JsonSchema,
{
    fn describe(describer: &mut Describer<'_>) {
        let payload = describer.schema::<X::Payload>();
        describer.push(X::NAME, Direction::Incoming, payload, None);
    }
}

impl<X: Outgoing> DescribeNode<AsOutgoing> for X
where
    X::Payload: JsonSchema,
{
    fn describe(describer: &mut Describer<'_>) {
        let payload = describer.schema::<X::Payload>();
        describer.push(X::NAME, Direction::Outgoing, payload, None);
    }
}

impl<X: Request> DescribeNode<AsRequest> for X
where
    X::Payload: JsonSchema,
    X::Response: JsonSchema,
{
    fn describe(describer: &mut Describer<'_>) {
        let payload = describer.schema::<X::Payload>();
        let response = describer.schema::<X::Response>();
        describer.push(X::NAME, Direction::Request, payload, Some(response));
    }
}

impl<X: ClientRequest> DescribeNode<AsClientRequest> for X
where
    X::Payload: JsonSchema,
    X::Response: JsonSchema,
{
    fn describe(describer: &mut Describer<'_>) {
        let payload = describer.schema::<X::Payload>();
        let response = describer.schema::<X::Response>();
        describer.push(X::NAME, Direction::ClientRequest, payload, Some(response));
    }
}

impl<N: Namespace, S: Describe<P>, P> DescribeNode<AsScope<P>> for Scope<N, S> {
    fn describe(describer: &mut Describer<'_>) {
        let len = describer.prefix.len();
        describer.prefix.push_str(N::NAME);
        describer.prefix.push('.');
        S::describe(describer);
        describer.prefix.truncate(len);
    }
}

/// Walks `R` and returns its routes with their schemas, in router order;
/// definitions of named types land in `generator`.
pub(crate) fn describe<R: Describe<Shape>, Shape>(
    generator: &mut SchemaGenerator,
) -> Vec<DescribedRoute> {
    let mut describer = Describer {
        prefix: String::new(),
        generator,
        routes: Vec::new(),
    };
    R::describe(&mut describer);
    describer.routes
}

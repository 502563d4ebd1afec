//! Walking a router at run time: the list of its routes, checked once.

use std::collections::HashMap;

use super::walk::{Direction, RouteInfo, Router, Walk};
use crate::protocol::error::BuildError;

/// Every route of router `R`, in declaration order.
pub fn routes<R: Router<P>, P>() -> Vec<RouteInfo> {
    walk::<R, P>().0
}

fn walk<R: Router<P>, P>() -> (Vec<RouteInfo>, Option<BuildError>) {
    let mut prefix = String::new();
    let mut routes = Vec::new();
    let mut walk = Walk {
        prefix: &mut prefix,
        routes: &mut routes,
        invalid: None,
    };
    R::walk(&mut walk);
    let invalid = walk.invalid;
    (routes, invalid)
}

/// The checked list of a router's routes: names are valid and unique.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<RouteInfo>,
}

impl RouteTable {
    /// Walks `R` and checks every wire name: segments are well-formed and no two
    /// routes (in either direction) share a name.
    pub(crate) fn of<R: Router<P>, P>() -> Result<Self, BuildError> {
        let (routes, invalid) = walk::<R, P>();
        if let Some(e) = invalid {
            return Err(e);
        }
        let mut seen: HashMap<&str, &RouteInfo> = HashMap::with_capacity(routes.len());
        for route in &routes {
            if let Some(first) = seen.insert(&route.name, route) {
                return Err(BuildError::DuplicateName {
                    name: route.name.clone(),
                    first: first.marker,
                    second: route.marker,
                });
            }
        }
        Ok(RouteTable { routes })
    }

    /// Routes a client sends: incoming and request routes.
    pub(crate) fn incoming(&self) -> impl Iterator<Item = &RouteInfo> {
        self.routes
            .iter()
            .filter(|r| matches!(r.direction, Direction::Incoming | Direction::Request))
    }
}

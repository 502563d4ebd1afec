//! A route whose payload type is not serde + garde: the library's own words.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Incoming, Outgoing};

struct Opaque {
    n: u32,
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Opaque;
}

fn main() {}

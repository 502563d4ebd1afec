//! A borrowed `&str` payload: a message is owned data.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Incoming, Outgoing};

struct Post;
impl Outgoing for Post {
    const NAME: &'static str = "post";
    type Payload = &'static str;
}

fn main() {}

//! A request route answers `Outcome<Joined, JoinError>`: its handler cannot
//! refuse with another error type (here `BanError`, another route's).
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerError, Outcome, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct RoomId {
    #[garde(length(min = 1))]
    room: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Joined {
    members: u32,
}
#[derive(Serialize, Deserialize)]
enum JoinError {
    RoomFull,
}
#[derive(Serialize, Deserialize)]
enum BanError {
    NotAnAdmin,
}

struct Join;
impl Request for Join {
    const NAME: &'static str = "join";
    type Payload = RoomId;
    type Response = Outcome<Joined, JoinError>;
}
struct Ban;
impl Request for Ban {
    const NAME: &'static str = "ban";
    type Payload = RoomId;
    type Response = Outcome<Joined, BanError>;
}

type Router = (Join, Ban);

async fn join(_: RoomId, _: Ctx<Router>) -> Result<Outcome<Joined, BanError>, HandlerError> {
    Ok(Outcome::Err(BanError::NotAnAdmin))
}

async fn ban(_: RoomId, _: Ctx<Router>) -> Result<Outcome<Joined, BanError>, HandlerError> {
    Ok(Outcome::Ok(Joined { members: 0 }))
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on_request(Join, join)
        .on_request(Ban, ban)
        .build();
}

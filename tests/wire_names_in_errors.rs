//! Validation and decode errors name fields as the wire does: serde's
//! `rename_all` and `rename`, nested paths, sequence indices; the same for
//! serde (missing, wrong type) and garde (too long) failures, and for the
//! handshake.
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zocket::testing::TestServer;
use zocket::{Ctx, ErrorKind, HandlerResult, Incoming, Zocket};

#[derive(Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Member {
    #[garde(length(chars, min = 1, max = 8))]
    display_name: String,
}

#[derive(Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Invite {
    #[garde(length(chars, min = 1, max = 16))]
    room_id: String,
    #[garde(dive)]
    guest_list: Vec<Member>,
}

struct SendInvite;
impl Incoming for SendInvite {
    const NAME: &'static str = "invite";
    type Payload = Invite;
}
type R = (SendInvite, ());

#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Hello {
    #[garde(length(min = 1, max = 8))]
    user_name: String,
}

fn server() -> TestServer<R, ()> {
    let app = Zocket::<R>::builder()
        .on_connect(|_: Hello, _| async { Ok(()) })
        .on(SendInvite, |_: Invite, _: Ctx<R>| async {
            Ok(()) as HandlerResult
        })
        .build()
        .unwrap();
    TestServer::new(app)
}

#[tokio::test]
async fn a_camel_case_field_is_named_room_id_whether_missing_too_long_or_of_the_wrong_type() {
    let server = server();
    let mut c = server.connect([("userName", "ann")]).await.unwrap();
    let cases = [
        (
            json!({"guestList": []}),
            ErrorKind::InvalidPayload,
            "roomId",
        ),
        (
            json!({"roomId": "x".repeat(17), "guestList": []}),
            ErrorKind::ValidationFailed,
            "roomId",
        ),
        (
            json!({"roomId": 5, "guestList": []}),
            ErrorKind::InvalidPayload,
            "roomId",
        ),
        (
            json!({"roomId": "r", "guestList": [{"displayName": "ok"}, {"displayName": "far too long"}]}),
            ErrorKind::ValidationFailed,
            "guestList[1].displayName",
        ),
        (
            json!({"roomId": "r", "guestList": [{"displayName": "ok"}, {}]}),
            ErrorKind::InvalidPayload,
            "guestList[1].displayName",
        ),
        (
            json!({"roomId": "r", "guestList": [{"displayName": 7}]}),
            ErrorKind::InvalidPayload,
            "guestList[0].displayName",
        ),
    ];
    for (payload, kind, path) in cases {
        c.send_raw(json!({"type": "invite", "payload": payload}).to_string())
            .await;
        let error = c.expect_error(kind).await;
        assert_eq!(
            error.details[0].path, path,
            "{payload}: {:?}",
            error.details
        );
    }
}

#[tokio::test]
async fn the_handshake_names_its_fields_as_sent() {
    let server = server();
    let refused = server
        .connect([("userName", "much too long")])
        .await
        .unwrap_err();
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("\"path\":\"userName\""),
        "{}",
        refused.body
    );
    let refused = server.connect([("x", "y")]).await.unwrap_err();
    assert!(
        refused.body.contains("\"path\":\"userName\""),
        "{}",
        refused.body
    );
}

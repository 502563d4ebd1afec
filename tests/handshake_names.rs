//! Handshake names over real sockets, as the Zocket v1 client sends them:
//! `headers: { userName: "Alice" }` becomes `?userName=Alice`, and reaches a
//! headers type whose field has the same (case-sensitive) name.
mod common;

use common::{http, upgrade_request};
use garde::Validate;
use serde::Deserialize;
use tokio::net::TcpListener;
use zocket::{Reject, Zocket};

#[derive(Debug, Deserialize, Validate)]
struct V1Headers {
    #[serde(rename = "userName")]
    #[garde(length(min = 1))]
    user_name: String,
    #[serde(rename = "isAdmin", default)]
    #[garde(skip)]
    is_admin: Option<String>,
}

async fn server() -> std::net::SocketAddr {
    let app = Zocket::<()>::builder()
        .on_connect(|h: V1Headers, _| async move {
            // Refuses unless both camelCase names arrived with their values.
            match (h.user_name.as_str(), h.is_admin.as_deref()) {
                ("Alice", Some("true")) => Ok(()),
                (name, admin) => Err(Reject::forbidden(format!("got {name:?} admin={admin:?}"))),
            }
        })
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_listener(listener));
    addr
}

#[tokio::test]
async fn camel_case_query_names_reach_the_fields_of_the_same_name() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let addr = server().await;
    tokio_tungstenite::connect_async(format!("ws://{addr}/?userName=Alice&isAdmin=true"))
        .await
        .expect("accepted: both camelCase names reached on_connect");
    // The same names as HTTP headers, in any case.
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("UserName", "Alice".parse().unwrap());
    request
        .headers_mut()
        .insert("isadmin", "true".parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("accepted: header names in any case");
    // Query names are case-sensitive: a lower-cased name is another parameter.
    let (status, body) = http(addr, &upgrade_request("/?username=Alice&isAdmin=true", "")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("userName"), "{body}");
}

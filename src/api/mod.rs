//! The routes of API.md: one plain function per route, from the parsed call
//! to a reply. The HTTP layer (`crate::http`) does the checks every route
//! shares, in the order API.md gives.

pub mod account;
pub mod body;
pub mod vault;

use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;

use crate::auth::limiter::Limiter;
use crate::auth::opaque::{CredentialIds, LoginStateSeal, ServerSetup};
use crate::auth::token::TokenKeys;
use crate::config::Signups;
use crate::error::ApiError;
use crate::store::Store;

/// Everything a route may use; shared by all worker threads.
pub struct App {
    pub store: Box<dyn Store>,
    pub tokens: TokenKeys,
    pub server_setup: ServerSetup,
    pub login_seal: LoginStateSeal,
    pub credential_ids: CredentialIds,
    pub signups: Signups,
    pub limiter: Limiter,
}

/// The authenticated user of a call.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub user_id: i64,
    /// Unix seconds the caller's token was issued.
    pub issued_at: u64,
}

/// One request, after the shared checks.
pub struct Call<'a> {
    pub body: &'a [u8],
    /// Set on routes that need a token.
    pub caller: Option<Caller>,
    /// The client's address (the TCP peer, or the proxy's word for it).
    pub client: IpAddr,
}

impl Call<'_> {
    /// The caller of an authenticated route. The HTTP layer has checked the
    /// token before the route runs, so `None` is a routing bug.
    pub fn caller(&self) -> Result<Caller, ApiError> {
        self.caller.ok_or(ApiError::Unauthorized)
    }
}

pub struct Reply {
    pub status: u16,
    /// The JSON body, already serialized: routes serialize their own types
    /// straight to bytes, with no `serde_json::Value` tree in between.
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: impl Serialize) -> Result<Reply, ApiError> {
        Reply::json(200, body)
    }

    pub fn created(body: impl Serialize) -> Result<Reply, ApiError> {
        Reply::json(201, body)
    }

    fn json(status: u16, body: impl Serialize) -> Result<Reply, ApiError> {
        let body = serde_json::to_vec(&body).map_err(|_| ApiError::Internal)?;
        Ok(Reply { status, body })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A valid, unrevoked token.
    User,
    /// A valid token issued less than `account::FRESH_TOKEN_SECONDS` ago
    /// (the account routes).
    FreshUser,
}

pub type Handler = fn(&App, &Call) -> Result<Reply, ApiError>;

/// The one method a route answers; any other is `405` (API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// As on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

pub struct Route {
    pub path: &'static str,
    pub method: Method,
    pub access: Access,
    pub handler: Handler,
}

/// `METHOD "path" access handler;` per line, a table rustfmt leaves alone.
macro_rules! routes {
    ($($method:ident $path:literal $access:ident $handler:path;)*) => {
        &[$(Route {
            path: $path,
            method: Method::$method,
            access: Access::$access,
            handler: $handler,
        }),*]
    };
}

/// The routes of API.md.
pub const ROUTES: &[Route] = routes! {
    Get  "/health"                   Public    health;
    Post "/register"                 Public    account::register;
    Post "/register/finish"          Public    account::register_finish;
    Post "/login"                    Public    account::login;
    Post "/login/finish"             Public    account::login_finish;
    Post "/logout"                   User      account::logout;
    Post "/account/password"         FreshUser account::password;
    Post "/account/password/finish"  FreshUser account::password_finish;
    Post "/account/delete"           FreshUser account::delete;
    Post "/add"                      User      vault::add;
    Post "/get"                      User      vault::get;
    Post "/change"                   User      vault::change;
    Post "/delete"                   User      vault::delete;
    Post "/sync"                     User      vault::sync;
};

pub fn find_route(path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.path == path)
}

/// `GET /health`: `200` when the database answers, else `503`.
fn health(app: &App, _call: &Call) -> Result<Reply, ApiError> {
    app.store.health()?;
    Reply::ok(json!({ "status": "ok" }))
}

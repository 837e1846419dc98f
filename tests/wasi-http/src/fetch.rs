//! `fetch URL`: a WASI 0.2 command that sends `GET URL` through
//! `wasi:http/outgoing-handler` and prints the status and the body (`status 200\n<body>`), or
//! `error: <error code>` and exits with status 1.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_default();
    match fetch(&url) {
        Ok((status, body)) => {
            println!("status {status}");
            println!("{}", String::from_utf8_lossy(&body));
        }
        Err(e) => {
            println!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn fetch(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|()| "method")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let body = request.body().map_err(|()| "body")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        other => return Err(format!("{other:?}")),
    };
    let status = response.status();
    let body = response.consume().map_err(|()| "consume")?;
    let stream = body.stream().map_err(|()| "stream")?;
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(65536) {
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, bytes))
}

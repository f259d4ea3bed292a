use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};
use std::time::Instant;

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// vaultd patch: a request line, header count or header size over its bound
    HeadTooLarge,
    /// vaultd patch: `Transfer-Encoding` (only `Content-Length` is accepted)
    LengthRequired(HTTPVersion),
    /// vaultd patch: no byte of a next request came (closed, or idle too long)
    Idle,
    ReadIoError(IoError),
}

/// vaultd patch: why one line of a head could not be read.
enum LineError {
    TooLong,
    BareCr,
    NotAscii,
    Io(IoError),
}

impl LineError {
    fn in_head(self, malformed: ReadError) -> ReadError {
        match self {
            LineError::TooLong => ReadError::HeadTooLarge,
            LineError::BareCr | LineError::NotAscii => malformed,
            LineError::Io(e) => ReadError::ReadIoError(e),
        }
    }
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// vaultd patch: sets the wall-clock deadline of the reads to come (once
    /// the previous request's body reader is done with the socket).
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        let reader = self.next_header_source.inner_when_my_turn();
        reader.get_mut().set_deadline(deadline);
    }

    fn next_byte(&mut self) -> IoResult<u8> {
        let mut byte = [0u8];
        loop {
            match self.next_header_source.read(&mut byte) {
                Ok(0) => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
                Ok(_) => return Ok(byte[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next line from self.next_header_source, up to `CRLF`.
    ///
    /// vaultd patch: at most `limit` bytes before the `CRLF` are read (and
    /// held); a CR not followed by LF is malformed (upstream took both).
    fn read_next_line(&mut self, first: Option<u8>, limit: usize) -> Result<AsciiString, LineError> {
        let mut buf = Vec::new();
        let mut next = first;
        loop {
            let byte = match next.take() {
                Some(b) => b,
                None => self.next_byte().map_err(LineError::Io)?,
            };
            if byte == b'\r' {
                if self.next_byte().map_err(LineError::Io)? != b'\n' {
                    return Err(LineError::BareCr);
                }
                return AsciiString::from_ascii(buf).map_err(|_| LineError::NotAscii);
            }
            if buf.len() == limit {
                return Err(LineError::TooLong);
            }
            buf.push(byte);
        }
    }

    /// vaultd patch: the header lines, within `MAX_HEADER_FIELDS` fields and
    /// `MAX_HEADER_BYTES` bytes in all (CRLFs counted); a line that starts
    /// with white space (obsolete folding) is malformed.
    fn read_headers(&mut self, version: &HTTPVersion) -> Result<Vec<crate::Header>, ReadError> {
        let malformed = || ReadError::WrongHeader(version.clone());
        let mut headers = Vec::new();
        let mut budget = crate::util::MAX_HEADER_BYTES;
        loop {
            let line = self
                .read_next_line(None, budget.saturating_sub(2))
                .map_err(|e| e.in_head(malformed()))?;
            if line.is_empty() {
                return Ok(headers);
            }
            if headers.len() == crate::util::MAX_HEADER_FIELDS {
                return Err(ReadError::HeadTooLarge);
            }
            budget -= line.len() + 2;
            if line.as_bytes()[0] == b' ' || line.as_bytes()[0] == b'\t' {
                return Err(malformed());
            }
            headers.push(FromStr::from_str(line.as_str()).map_err(|()| malformed())?);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        // vaultd patch: idle until the first byte (the plain socket
        // timeout), then the head and the body each have a wall-clock total.
        self.set_deadline(None);
        let first = self.next_byte().map_err(|_| ReadError::Idle)?;
        self.set_deadline(Some(Instant::now() + crate::util::HEAD_DEADLINE));
        let line = self
            .read_next_line(Some(first), crate::util::MAX_REQUEST_LINE)
            .map_err(|e| e.in_head(ReadError::WrongRequestLine))?;
        let (method, path, version) = parse_request_line(line.as_str().trim())?;
        let headers = self.read_headers(&version)?;
        check_framing(&headers, &version)?;
        self.set_deadline(Some(Instant::now() + crate::util::BODY_DEADLINE));

        // vaultd patch: a body that is not read before the request reaches
        // a worker is never drained (the worker would wait on the client),
        // so bytes after it would be parsed as a further request: serve
        // this request, then close the connection.
        let body_may_be_left_unread = headers.iter().any(|h: &crate::Header| {
            h.field.equiv("Content-Length")
                && h.value
                    .as_str()
                    .parse::<usize>()
                    .map_or(true, |len| len > crate::util::PREREAD_LIMIT)
        });
        if body_may_be_left_unread {
            self.no_more_requests = true;
        }

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

/// vaultd patch: only `Content-Length` frames a body, once, in plain digits
/// (upstream: chunked bodies, the first of several lengths, `+2`), so no
/// two parsers on the path can disagree about where a request ends.
fn check_framing(headers: &[crate::Header], version: &HTTPVersion) -> Result<(), ReadError> {
    if headers.iter().any(|h| h.field.equiv("Transfer-Encoding")) {
        return Err(ReadError::LengthRequired(version.clone()));
    }
    let mut lengths = headers.iter().filter(|h| h.field.equiv("Content-Length"));
    if let Some(length) = lengths.next() {
        let digits = length.value.as_bytes();
        if lengths.next().is_some() || digits.is_empty() || !digits.iter().all(u8::is_ascii_digit)
        {
            return Err(ReadError::WrongHeader(version.clone()));
        }
    }
    Ok(())
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Ok(rq) => rq,
                // vaultd patch: every answer below closes the connection: we
                // don't know where the next request would start.
                Err(err) => {
                    let (ver, status, code, message) = match err {
                        ReadError::WrongRequestLine => {
                            (HTTPVersion(1, 1), 400, "bad_request", "malformed HTTP request")
                        }
                        ReadError::WrongHeader(ver) => {
                            (ver, 400, "bad_request", "malformed HTTP request")
                        }
                        ReadError::HeadTooLarge => (
                            HTTPVersion(1, 1),
                            431,
                            "request_header_fields_too_large",
                            "request line over 8 KiB, over 100 header fields, or over 32 KiB of headers",
                        ),
                        ReadError::LengthRequired(ver) => (
                            ver,
                            411,
                            "length_required",
                            "Transfer-Encoding is not supported: send a Content-Length",
                        ),
                        ReadError::ExpectationFailed(ver) => {
                            (ver, 417, "expectation_failed", "unsupported Expect header")
                        }
                        ReadError::ReadIoError(ref e) if e.kind() == ErrorKind::TimedOut => (
                            HTTPVersion(1, 1),
                            408,
                            "request_timeout",
                            "the request was not sent in time",
                        ),
                        ReadError::Idle | ReadError::ReadIoError(_) => return None,
                    };
                    let writer = self.sink.next().unwrap();
                    let response = json_error(status, code, message);
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None;
                }
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = json_error(505, "http_version_not_supported", "only HTTP/1.0 and 1.1 are supported");
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                // vaultd patch: `Connection: upgrade` is answered as if absent
                // (upstream handed the rest of the connection to the worker).
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}

/// vaultd patch: the answers tiny_http gives itself (malformed requests,
/// timeouts) carry a JSON error body like every vaultd response.
fn json_error(status: u16, code: &str, message: &str) -> crate::Response<std::io::Cursor<Vec<u8>>> {
    let body = format!("{{\"error\":\"{code}\",\"message\":\"{message}\"}}");
    let mut response = crate::Response::from_data(body.into_bytes()).with_status_code(status);
    if let Ok(h) = crate::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        response.add_header(h);
    }
    response
}

use crate::connection::Connection;
use crate::util::refined_tcp_stream::Stream as RefinedStream;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use zeroize::Zeroizing;

/// vaultd patch 8: the context that replaces every server's own from the next
/// handshake on (`SslConfig::replace_served_certificate`). `None` until then.
static REPLACEMENT: RwLock<Option<openssl::ssl::SslContext>> = RwLock::new(None);

impl crate::SslConfig {
    /// vaultd patch 8: from the next TLS handshake on, every HTTPS server of
    /// this process serves this certificate chain and key instead of the ones
    /// it was started with; connections already open keep theirs. A server's
    /// `SslConfig` is fixed when it binds, and a short-lived certificate must
    /// be renewed without a restart. On an error (PEM that does not parse, a
    /// key that does not match) nothing changes.
    pub fn replace_served_certificate(self) -> Result<(), Box<dyn Error + Send + Sync>> {
        let context = OpenSslContext::from_pem(self.certificate, Zeroizing::new(self.private_key))?;
        *REPLACEMENT.write().unwrap_or_else(PoisonError::into_inner) = Some(context.0);
        Ok(())
    }
}

pub(crate) struct OpenSslStream {
    inner: openssl::ssl::SslStream<Connection>,
}

/// An OpenSSL stream which has been split into two mutually exclusive streams (e.g. for read / write)
pub(crate) struct SplitOpenSslStream(Arc<Mutex<OpenSslStream>>);

// These struct methods form the implict contract for swappable TLS implementations
impl SplitOpenSslStream {
    pub(crate) fn peer_addr(&mut self) -> std::io::Result<Option<SocketAddr>> {
        self.0.lock().unwrap().inner.get_mut().peer_addr()
    }

    pub(crate) fn shutdown(&mut self, how: Shutdown) -> std::io::Result<()> {
        self.0.lock().unwrap().inner.get_mut().shutdown(how)
    }

    pub(crate) fn set_read_timeout(&mut self, timeout: std::time::Duration) -> std::io::Result<()> {
        self.0.lock().unwrap().inner.get_ref().set_read_timeout(timeout)
    }
}

impl Clone for SplitOpenSslStream {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Read for SplitOpenSslStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().read(buf)
    }
}

impl Write for SplitOpenSslStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().flush()
    }
}

impl Read for OpenSslStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for OpenSslStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) struct OpenSslContext(openssl::ssl::SslContext);

impl OpenSslContext {
    pub fn from_pem(
        certificates: Vec<u8>,
        private_key: Zeroizing<Vec<u8>>,
    ) -> Result<Self, Box<dyn Error + Send + Sync>> {
        use openssl::pkey::PKey;
        use openssl::ssl::{self, SslVerifyMode};
        use openssl::x509::X509;

        let mut ctx = openssl::ssl::SslContext::builder(ssl::SslMethod::tls())?;
        ctx.set_cipher_list("DEFAULT")?;
        let certificate_chain = X509::stack_from_pem(&certificates)?;
        if certificate_chain.is_empty() {
            return Err("Couldn't extract certificate chain from config.".into());
        }
        // The leaf certificate must always be first in the PEM file
        ctx.set_certificate(&certificate_chain[0])?;
        for chain_cert in certificate_chain.into_iter().skip(1) {
            ctx.add_extra_chain_cert(chain_cert)?;
        }
        let key = PKey::private_key_from_pem(&private_key)?;
        ctx.set_private_key(&key)?;
        ctx.set_verify(SslVerifyMode::NONE);
        ctx.check_private_key()?;

        Ok(Self(ctx.build()))
    }

    pub fn accept(
        &self,
        stream: Connection,
    ) -> Result<OpenSslStream, Box<dyn Error + Send + Sync + 'static>> {
        use openssl::ssl::Ssl;
        // vaultd patch 8: a replacement context, when there is one. Cloned
        // (a reference count) so the lock is not held during the handshake.
        let replaced = REPLACEMENT
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let context = replaced.as_ref().unwrap_or(&self.0);
        let session = Ssl::new(context).expect("Failed to create new OpenSSL session");
        let stream = session.accept(stream)?;
        Ok(OpenSslStream { inner: stream })
    }
}

impl From<OpenSslStream> for RefinedStream {
    fn from(stream: OpenSslStream) -> Self {
        RefinedStream::Https(SplitOpenSslStream(Arc::new(Mutex::new(stream))))
    }
}

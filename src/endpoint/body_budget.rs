//! One budget for the memory that request bodies hold at once, so that many large bodies in
//! flight cannot take the endpoint's memory: before a request's body is read, its share is
//! reserved (its declared length, or the largest allowed body when it declares none, times what
//! decoding its protocol may add); a request whose share does not fit gets 503 with
//! `Retry-After` at once, without its body being read. The share is given back when the answer
//! is ready.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Reservations are counted in KiB, so that a budget of gigabytes fits the semaphore's `u32`.
const UNIT: u64 = 1024;

pub struct BodyBudget {
    kib: Arc<Semaphore>,
    total_kib: u32,
    max_body: u64,
}

impl BodyBudget {
    pub fn new(bytes: u64, max_body: u64) -> BodyBudget {
        let total_kib = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).max(1);
        BodyBudget { kib: Arc::new(Semaphore::new(total_kib as usize)), total_kib, max_body }
    }

    /// What a request reserves: XML-RPC, SOAP and AMF build a tree of values and texts from
    /// their body, bounded by their readers' limits, which a factor of the body's size stands for.
    fn share(&self, req: &Request) -> u64 {
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        let body = match (declared, chunked) {
            (Some(n), false) => n.min(self.max_body),
            (None, false) => 0,
            _ => self.max_body,
        };
        let path = req.uri().path();
        let decodes = ["/soap/", "/xmlrpc/", "/amf/"].iter().any(|p| path.contains(p));
        if decodes {
            body.saturating_mul(DECODE_FACTOR)
        } else if path == crate::domain::routes::UPLOAD {
            // The multipart reader buffers the body, and each file is read out of that into a
            // part of its own: three times the body at the peak.
            body.saturating_mul(3)
        } else {
            body
        }
    }
}

/// What decoding an XML or AMF body may hold beside the body itself, as a multiple of its size.
const DECODE_FACTOR: u64 = 4;

/// The budget as a layer of the router. Written by hand rather than with `from_fn`: a request
/// without a body (most calls) goes straight to the inner service, with no boxing or clone.
#[derive(Clone)]
pub struct BudgetLayer(pub Arc<BodyBudget>);

impl<S> tower::Layer<S> for BudgetLayer {
    type Service = Budgeted<S>;

    fn layer(&self, inner: S) -> Budgeted<S> {
        Budgeted { inner, budget: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct Budgeted<S> {
    inner: S,
    budget: Arc<BodyBudget>,
}

type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> tower::Service<Request> for Budgeted<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<S::Future, Boxed>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        let share = self.budget.share(&req);
        if share == 0 {
            return Either::Left(self.inner.call(req));
        }
        let kib = u32::try_from(share.div_ceil(UNIT)).unwrap_or(u32::MAX).min(self.budget.total_kib);
        let Ok(held) = self.budget.kib.clone().try_acquire_many_owned(kib) else {
            let busy = (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1"), ("connection", "close")],
                "Busy: too many large requests in flight; try again\n",
            )
                .into_response();
            let busy = super::answers::refused(busy, "bodybudget");
            return Either::Right(Box::pin(std::future::ready(Ok(busy))));
        };
        let answer = self.inner.call(req);
        Either::Right(Box::pin(async move {
            let response = answer.await;
            drop(held);
            response
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method("POST").uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn shares_follow_the_declared_length_and_the_protocol() {
        let b = BodyBudget::new(64 << 20, 8 << 20);
        assert_eq!(b.share(&request("/webservice/rest/server.php", &[])), 0);
        assert_eq!(b.share(&request("/webservice/rest/server.php", &[("content-length", "1000")])), 1000);
        assert_eq!(b.share(&request("/webservice/soap/server.php", &[("content-length", "1000")])), 4000);
        assert_eq!(b.share(&request("/webservice/upload.php", &[("content-length", "1000")])), 3000);
        assert_eq!(b.share(&request("/login/token.php", &[("transfer-encoding", "chunked")])), 8 << 20);
        assert_eq!(b.share(&request("/login/token.php", &[("content-length", "99999999999")])), 8 << 20);
    }
}

//! The `#[async_endpoint]` attribute of [asyncep](https://docs.rs/asyncep).
//!
//! Use it through the `asyncep` crate, which re-exports it and documents it
//! in full; the generated code needs `asyncep` as a dependency.

mod args;
mod diag;
mod duration;
mod expand;
mod model;
mod route;
mod signature;

use proc_macro::TokenStream;
use syn::parse::Parser;

/// Turns an `async fn` into an asynchronous request-reply endpoint.
///
/// ```text
/// #[async_endpoint(job = "render-report", post = "/reports/<id>", retries = 3, timeout = "30s", backoff = "2s")]
/// async fn render(ctx: AsyncContext<ReportRequest>) -> Result<Report, JobError> { ... }
/// ```
///
/// See the `asyncep` crate's documentation of `async_endpoint` for every key,
/// the accepted signatures, and what the attribute expands to.
#[proc_macro_attribute]
pub fn async_endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[async_endpoint]` goes on an `async fn`",
            );
            return diag::fallback(item, error).into();
        }
    };
    let args = args::EndpointArgs::parse.parse(args);
    match model::Endpoint::new(args, &function) {
        Ok(endpoint) => expand::expand(&endpoint, &function).into(),
        Err(error) => diag::fallback(&function, error).into(),
    }
}

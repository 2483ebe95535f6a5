//! The endpoint model: arguments and signature, checked together.

use syn::ItemFn;

use crate::args::EndpointArgs;
use crate::diag::Errors;
use crate::signature::Signature;

/// Everything the expansion needs, and nothing it must re-check.
#[cfg_attr(test, derive(Debug))]
pub(crate) struct Endpoint {
    pub(crate) args: EndpointArgs,
    pub(crate) signature: Signature,
}

impl Endpoint {
    /// Checks the arguments and the function; every error is reported.
    pub(crate) fn new(args: syn::Result<EndpointArgs>, item: &ItemFn) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let args = errors.take(args);
        let signature = errors.take(Signature::check(item));
        errors.finish()?;
        let (Some(args), Some(signature)) = (args, signature) else {
            unreachable!("errors were reported above");
        };
        Ok(Self { args, signature })
    }
}

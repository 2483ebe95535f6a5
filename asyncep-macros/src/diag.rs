//! Error collection, and the output of a failed expansion.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collects every error of one expansion, so the user sees them all at once.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Keeps the value of a check, or records its error.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}

/// What a failed expansion emits: the user's item unchanged, so that the IDE
/// and the rest of the crate keep working, plus the errors.
pub(crate) fn fallback(item: impl ToTokens, error: syn::Error) -> TokenStream {
    let mut tokens = item.into_token_stream();
    tokens.extend(error.into_compile_error());
    tokens
}

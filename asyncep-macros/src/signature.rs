//! The handler's signature, checked into [`Signature`].

use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, PathArguments, ReturnType, Type};

use crate::diag::Errors;

/// What the generated code needs to know of the handler.
#[cfg_attr(test, derive(Debug))]
pub(crate) struct Signature {
    pub(crate) name: Ident,
    /// `T` of `AsyncContext<T>`; `None` for plain `AsyncContext`.
    pub(crate) body: Option<Type>,
    /// The type of the second argument (`State<S>`), if any.
    pub(crate) extra: Option<Type>,
    /// The return type, `Result<R, E>`.
    pub(crate) output: Type,
}

const SHAPE: &str = "an async endpoint is `async fn name(ctx: AsyncContext<T>) -> Result<R, E>`, optionally with a second argument `State<S>`";

impl Signature {
    /// Checks the function, reporting every mistake.
    pub(crate) fn check(item: &ItemFn) -> syn::Result<Self> {
        let sig = &item.sig;
        let mut errors = Errors::default();
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                "an async endpoint must be an `async fn`",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(syn::Error::new_spanned(
                &sig.generics,
                "an async endpoint cannot be generic: the job runner must know every type",
            ));
        }
        if let Some(constness) = sig.constness {
            errors.push(syn::Error::new(
                constness.span,
                "an async endpoint cannot be `const`",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(syn::Error::new(
                variadic.span(),
                "an async endpoint cannot be variadic",
            ));
        }
        let mut inputs = sig.inputs.iter();
        let body = match inputs.next() {
            None => {
                errors.push(syn::Error::new(
                    sig.paren_token.span.join(),
                    format!("missing the context argument: {SHAPE}"),
                ));
                None
            }
            Some(FnArg::Receiver(receiver)) => {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    "an async endpoint cannot take `self`: make it a free function",
                ));
                None
            }
            Some(FnArg::Typed(arg)) => errors.take(context_body(&arg.ty)).flatten(),
        };
        let extra = match inputs.next() {
            Some(FnArg::Typed(arg)) => Some((*arg.ty).clone()),
            Some(FnArg::Receiver(receiver)) => {
                errors.push(syn::Error::new(
                    receiver.span(),
                    "an async endpoint cannot take `self`",
                ));
                None
            }
            None => None,
        };
        for arg in inputs {
            errors.push(syn::Error::new_spanned(
                arg,
                format!("too many arguments: {SHAPE}"),
            ));
        }
        let output = match &sig.output {
            ReturnType::Default => {
                errors.push(syn::Error::new(
                    sig.paren_token.span.close(),
                    "missing return type: an async endpoint returns `Result<R, E>`",
                ));
                None
            }
            ReturnType::Type(_, ty) => errors.take(result_type(ty)),
        };
        errors.finish()?;
        Ok(Self {
            name: sig.ident.clone(),
            body,
            extra,
            output: output.expect("reported above when missing"),
        })
    }
}

/// `AsyncContext` → `None`; `AsyncContext<T>` → `Some(T)`.
fn context_body(ty: &Type) -> syn::Result<Option<Type>> {
    let wrong = || {
        syn::Error::new_spanned(
            ty,
            "the first argument must be `AsyncContext<T>` (a JSON body of type `T`) or `AsyncContext` (no body)",
        )
    };
    let Type::Path(path) = ty else {
        return Err(wrong());
    };
    let Some(last) = path.path.segments.last() else {
        return Err(wrong());
    };
    if last.ident != "AsyncContext" || path.qself.is_some() {
        return Err(wrong());
    }
    match &last.arguments {
        PathArguments::None => Ok(None),
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(body) => Ok(Some(body.clone())),
            other => Err(syn::Error::new(
                other.span(),
                "expected a body type, as in `AsyncContext<ReportRequest>`",
            )),
        },
        other => Err(syn::Error::new(
            other.span(),
            "`AsyncContext` takes one type argument, the body type: `AsyncContext<ReportRequest>`",
        )),
    }
}

/// The return type must name a `Result`; its parts are checked by traits.
fn result_type(ty: &Type) -> syn::Result<Type> {
    let is_result = match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Result"),
        _ => false,
    };
    if is_result {
        Ok(ty.clone())
    } else {
        Err(syn::Error::new_spanned(
            ty,
            "an async endpoint returns `Result<R, E>` (`R: Serialize`, `E: Display`), so that failures can be recorded and retried",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(item: proc_macro2::TokenStream) -> Result<Signature, String> {
        Signature::check(&syn::parse2(item).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_both_context_forms_and_state() {
        let sig = check(quote::quote!(
            async fn a(ctx: AsyncContext<Req>) -> Result<u8, String> {}
        ))
        .unwrap();
        assert!(sig.body.is_some() && sig.extra.is_none());
        let sig = check(quote::quote!(
            async fn a(ctx: asyncep::AsyncContext, s: State<Db>) -> anyhow::Result<u8> {}
        ))
        .unwrap();
        assert!(sig.body.is_none() && sig.extra.is_some());
    }

    #[test]
    fn refuses_each_bad_shape() {
        assert!(
            check(quote::quote!(
                fn a(c: AsyncContext) -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("`async fn`")
        );
        assert!(
            check(quote::quote!(
                async fn a<T>(c: AsyncContext) -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("generic")
        );
        assert!(
            check(quote::quote!(
                async fn a(&self) -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("`self`")
        );
        assert!(
            check(quote::quote!(
                async fn a() -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("missing the context")
        );
        assert!(
            check(quote::quote!(
                async fn a(c: String) -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("first argument")
        );
        assert!(
            check(quote::quote!(
                async fn a(c: AsyncContext, b: B, d: D) -> Result<(), String> {}
            ))
            .unwrap_err()
            .contains("too many")
        );
        assert!(
            check(quote::quote!(
                async fn a(c: AsyncContext) -> String {}
            ))
            .unwrap_err()
            .contains("returns `Result")
        );
        assert!(
            check(quote::quote!(
                async fn a(c: AsyncContext) {}
            ))
            .unwrap_err()
            .contains("missing return type")
        );
    }
}

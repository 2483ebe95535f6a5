//! Code generation, from the checked model only.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn};

use crate::model::Endpoint;

/// The one path through which generated code reaches the runtime.
fn private() -> TokenStream {
    quote!(::asyncep::__private)
}

/// The user's function, unchanged, then the registration in a `const _`
/// block that leaks no name.
pub(crate) fn expand(endpoint: &Endpoint, item: &ItemFn) -> TokenStream {
    let rt = private();
    let args = &endpoint.args;
    let sig = &endpoint.signature;
    let handler = &sig.name;
    let job = &args.job;
    let route = &args.route.axum;
    let method = Ident::new(args.method.variant(), Span::call_site());
    let body = match &sig.body {
        Some(ty) => quote!(#ty),
        None => quote!(#rt::NoBody),
    };
    let body_span = sig
        .body
        .as_ref()
        .map_or_else(Span::call_site, |ty| ty.span());
    let output = &sig.output;
    let retries = option(args.retries.map(|n| quote!(#n)));
    let millis = |d: std::time::Duration| {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        quote!(::core::time::Duration::from_millis(#ms))
    };
    let timeout = option(args.timeout.map(millis));
    let backoff = option(args.backoff.map(millis));

    let body_check = quote_spanned!(body_span=> const _: () = #rt::assert_body::<#body>(););
    let output_check =
        quote_spanned!(output.span()=> const _: () = #rt::assert_output::<#output>(););
    let (extra_check, extra_value, extra_arg, state) = match &sig.extra {
        Some(ty) => (
            quote_spanned!(ty.span()=> const _: () = #rt::assert_argument::<#ty>();),
            quote!(let __extra = __run.argument::<#ty>()?;),
            quote!(, __extra),
            quote!(::core::option::Option::Some(<#ty as #rt::FromStates>::requirement)),
        ),
        None => (
            quote!(),
            quote!(),
            quote!(),
            quote!(::core::option::Option::None),
        ),
    };
    let (validate_fn, validate) = match &args.validate {
        Some(path) => (
            quote! {
                fn __validate(
                    __submission: &#rt::Submission,
                ) -> #rt::BoxFuture<'_, ::core::result::Result<(), #rt::Response>> {
                    ::std::boxed::Box::pin(async move {
                        let __ctx = __submission.context::<#body>().map_err(#rt::reject)?;
                        #path(&__ctx).await.map_err(#rt::reject)
                    })
                }
            },
            quote!(::core::option::Option::Some(__validate)),
        ),
        None => (quote!(), quote!(::core::option::Option::None)),
    };

    quote! {
        #item

        const _: () = {
            #body_check
            #output_check
            #extra_check

            fn __check(__submission: &#rt::Submission) -> ::core::result::Result<(), #rt::Problem> {
                __submission.check::<#body>()
            }

            #validate_fn

            fn __run(
                __run: #rt::Run,
            ) -> #rt::BoxFuture<'static, ::core::result::Result<#rt::RawJson, #rt::JobError>> {
                ::std::boxed::Box::pin(async move {
                    #extra_value
                    let __ctx = __run.context::<#body>()?;
                    #rt::HandlerOutput::into_outcome(#handler(__ctx #extra_arg).await)
                })
            }

            #rt::inventory::submit! {
                #rt::Endpoint {
                    job: #job,
                    method: #rt::Method::#method,
                    route: #route,
                    retries: #retries,
                    timeout: #timeout,
                    backoff: #backoff,
                    reads_body: <#body as #rt::JobBody>::READS_BODY,
                    check: __check,
                    validate: #validate,
                    run: __run,
                    state: #state,
                    handler: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#handler)),
                    file: ::core::file!(),
                    line: ::core::line!(),
                }
            }
        };
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

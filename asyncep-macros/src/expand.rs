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
    let spec = quote!(<__Spec as #rt::EndpointSpec>);

    // The one place each user type is named: a wrong type is one error, on
    // the user's own token.
    let body = match &sig.body {
        Some(ty) => quote_spanned!(ty.span()=> type Body = #ty;),
        None => quote!(type Body = #rt::NoBody;),
    };
    let output = &sig.output;
    let output = quote_spanned!(output.span()=> type Output = #output;);
    let (extra, extra_arg) = match &sig.extra {
        Some(ty) => (
            quote_spanned!(ty.span()=> type Extra = #ty;),
            quote!(, #spec::extra(&__run)?),
        ),
        None => (quote!(type Extra = #rt::NoExtra;), quote!()),
    };

    let retries = option(args.retries.map(|n| quote!(#n)));
    let millis = |d: std::time::Duration| {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        quote!(::core::time::Duration::from_millis(#ms))
    };
    let timeout = option(args.timeout.map(millis));
    let backoff = option(args.backoff.map(millis));
    let (validate_fn, validate) = match &args.validate {
        Some(path) => (
            quote! {
                fn __validate(
                    __submission: &#rt::Submission,
                ) -> #rt::BoxFuture<'_, ::core::result::Result<(), #rt::Response>> {
                    ::std::boxed::Box::pin(async move {
                        let __ctx = #spec::validation_context(__submission).map_err(#rt::reject)?;
                        #path(&__ctx).await.map_err(#rt::reject)
                    })
                }
            },
            quote!(::core::option::Option::Some(__validate)),
        ),
        None => (quote!(), quote!(::core::option::Option::None)),
    };

    let kind = endpoint.args.handle.as_ref().map(|handle| {
        let vis = &item.vis;
        let doc = format!(
            "The job `{}` of [`{}`], for submitting it from Rust code with \
             [`asyncep::JobRequest::of`].",
            job.value(),
            handler
        );
        let body = match &sig.body {
            Some(ty) => quote_spanned!(ty.span()=> type Body = #ty;),
            None => quote!(type Body = #rt::NoBody;),
        };
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            #vis struct #handle;

            impl ::asyncep::JobKind for #handle {
                const JOB: &'static str = #job;
                #body
            }
        }
    });

    let doc = doc_comment(item);

    quote! {
        #item

        #kind

        const _: () = {
            struct __Spec;

            impl #rt::EndpointSpec for __Spec {
                #body
                #output
                #extra
            }

            #validate_fn

            fn __run(
                __run: #rt::Run,
            ) -> #rt::BoxFuture<'static, ::core::result::Result<#rt::RawJson, #rt::JobError>> {
                ::std::boxed::Box::pin(async move {
                    let __ctx = #spec::context(&__run)?;
                    #spec::outcome(#handler(__ctx #extra_arg).await)
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
                    reads_body: #spec::READS_BODY,
                    check: #spec::check,
                    validate: #validate,
                    run: __run,
                    state: #spec::state,
                    body_schema: #spec::body_schema,
                    doc: #doc,
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

/// The function's doc comment, as one text: what the OpenAPI document shows
/// of the endpoint.
fn doc_comment(item: &ItemFn) -> String {
    let lines: Vec<String> = item
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }),
                ..
            }) => Some(text.value()),
            _ => None,
        })
        .collect();
    lines
        .iter()
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

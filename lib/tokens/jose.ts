/**
 * The part of jose the webhook verifier uses, imported by ./webhook only when a webhook is first
 * verified (`import('./jose')`): esbuild then evaluates jose (about 17 KiB minified) on that first
 * verification instead of at every cold start of `webhooks`, where a request refused before its JWT
 * is looked at (a wrong route, an empty body) never needs it. A module of its own so that the
 * bundle keeps only these exports of jose, as a static import would.
 */
export { errors, jwtVerify } from 'jose';

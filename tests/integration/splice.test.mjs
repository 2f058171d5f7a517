// The HTTP/1.1 tests of http.test.mjs again, with splice: true: the
// client's bytes then reach the daemon through sk_msg, which must change
// nothing a client or a server sees (framing, half-close, backpressure in
// both directions, bounded memory). http.test.mjs checks at its end that
// bytes were spliced and that clients that outran the daemon fell back to
// the TCP path.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/splice.test.mjs
globalThis.mwHttpSplice = true;
await import('./http.test.mjs');

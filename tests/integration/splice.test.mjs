// The HTTP/1.1 tests of http.test.mjs again, with splice: true: the
// client's bytes then reach the daemon through sk_msg, which must change
// nothing a client or a server sees (framing, half-close, backpressure in
// both directions, bounded memory). With splice on, http.test.mjs also
// checks that a client sending a request at a time stays spliced (15) and
// that one that outruns the daemon leaves the splice once (3b).
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/splice.test.mjs
globalThis.mwHttpSplice = true;
await import('./http.test.mjs');

// Package signer holds every piece of cryptography the relay needs, and no
// I/O: the relay's own request authentication (scheme v1), Standard Webhooks
// signatures for the calls to the Wix site, and the hash schemes of the banks
// the relay speaks to.
//
// # Request authentication, scheme v1
//
// A Wix backend signs each call with HMAC-SHA256 over [StringToSign] and sends
// the four headers [HeaderKey], [HeaderTimestamp], [HeaderNonce] and
// [HeaderSignature]; [Sign] and [NewNonce] build them. The relay checks them
// with a [Verifier], which knows the configured keys, rejects timestamps
// outside its window and nonces it has already seen for a key. Failures are
// [*AuthError] values whose Code is one of the Code* constants and whose
// Message can be shown to the caller.
//
// # Webhooks
//
// [SignWebhook] and [VerifyWebhook] implement Standard Webhooks v1 (the
// webhook-id, webhook-timestamp and webhook-signature headers) with a
// "whsec_" secret from [NewWebhookSecret], read back with
// [ParseWebhookSecret].
//
// # Bank hash schemes
//
//   - Payten EST ver3 (Halkbank and other EST banks): [ESTv3Hash] and
//     [VerifyESTv3], with the field order of PHP's natural, case-insensitive
//     key sort ([StrNatCaseCmp], [ESTv3SortedKeys]).
//   - EST legacy ver1, for recognising old callbacks: [ESTv1RequestHash] and
//     [VerifyESTv1].
//   - QNB Finansbank PayFor: [PayForRequestHash] and [VerifyPayForResponse].
//   - VakıfBank Common Payment: [VakifCPHash].
//
// Bank verifiers compare in constant time and return errors that wrap
// [ErrHashMissing], [ErrHashMismatch] or [ErrHashParamsMismatch]; no error
// ever contains a secret, a store key or an expected hash.
package signer

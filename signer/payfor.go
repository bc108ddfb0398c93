package signer

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Hash algorithms of PayForResponseHash.
const (
	PayForSHA1   = "sha1"
	PayForSHA256 = "sha256"
)

// PayForRequestHash returns the QNB Finansbank PayFor 3D form hash:
// base64(SHA-1(MbrId + OrderId + PurchAmount + OkUrl + FailUrl + TxnType +
// InstallmentCount + Rnd + MerchantPass)), the values exactly as posted.
func PayForRequestHash(mbrID, orderID, purchAmount, okURL, failURL, txnType, installmentCount, rnd, merchantPass string) string {
	return sha1Base64(mbrID + orderID + purchAmount + okURL + failURL + txnType + installmentCount + rnd + merchantPass)
}

// PayForResponsePlaintext returns what a PayFor callback's ResponseHash is
// computed over: MerchantId + MerchantPass + OrderId + AuthCode +
// ProcReturnCode + 3DStatus + ResponseRnd + UserCode, with no separators.
func PayForResponsePlaintext(merchantID, merchantPass, orderID, authCode, procReturnCode, threeDStatus, responseRnd, userCode string) string {
	return merchantID + merchantPass + orderID + authCode + procReturnCode + threeDStatus + responseRnd + userCode
}

// PayForResponseHash returns base64 (standard, padded) of the digest of
// plaintext with alg: PayForSHA1 (28 characters) or PayForSHA256 (44
// characters), in any case. For any other alg it returns "".
func PayForResponseHash(alg, plaintext string) string {
	switch strings.ToLower(alg) {
	case PayForSHA1:
		sum := sha1.Sum([]byte(plaintext))
		return base64.StdEncoding.EncodeToString(sum[:])
	case PayForSHA256:
		sum := sha256.Sum256([]byte(plaintext))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	return ""
}

// payForResponseAlg picks the digest of a callback's ResponseHash: SHA-1 when
// HashType is "Sha1" (in any case) or the hash has SHA-1's 28 base64
// characters, SHA-256 otherwise (a 2024 callback carried a 44-character
// SHA-256 hash and no HashType).
func payForResponseAlg(hashType, responseHash string) string {
	if strings.EqualFold(hashType, "Sha1") || len(responseHash) == base64.StdEncoding.EncodedLen(sha1.Size) {
		return PayForSHA1
	}
	return PayForSHA256
}

// VerifyPayForResponse checks the ResponseHash of a PayFor 3D callback.
// fields are the callback's form fields (OrderId, AuthCode, ProcReturnCode,
// 3DStatus, ResponseRnd, ResponseHash and HashType are read; an absent field
// counts as ""); merchantID, merchantPass and userCode come from the
// configuration. The digest is chosen as described for HashType, and the
// hash compared in constant time. The error wraps ErrHashMissing or
// ErrHashMismatch.
func VerifyPayForResponse(fields map[string]string, merchantID, merchantPass, userCode string) error {
	got := fields["ResponseHash"]
	if got == "" {
		return fmt.Errorf("payfor callback: %w: no ResponseHash field; failed 3D callbacks may carry none, so check 3DStatus before the hash", ErrHashMissing)
	}
	alg := payForResponseAlg(fields["HashType"], got)
	plain := PayForResponsePlaintext(merchantID, merchantPass, fields["OrderId"], fields["AuthCode"],
		fields["ProcReturnCode"], fields["3DStatus"], fields["ResponseRnd"], userCode)
	if !constantTimeEqual(got, PayForResponseHash(alg, plain)) {
		return fmt.Errorf("payfor callback: %w: ResponseHash (%s) does not match; check the merchant id, merchant password and user code", ErrHashMismatch, alg)
	}
	return nil
}

// PayForResponseAlg chooses the ResponseHash digest as VerifyPayForResponse
// does: SHA-1 when HashType is "Sha1" or the hash is 28 characters, SHA-256
// otherwise (the 2024 callbacks carry no HashType and a 44-character hash).
func PayForResponseAlg(hashType, responseHash string) string {
	return payForResponseAlg(hashType, responseHash)
}

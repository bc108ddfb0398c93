package signer

// vakifCPConstant is the fixed suffix of VakıfBank Common Payment's
// HashedData (library PayFlexCPV4Crypt; UNCERTAIN whether the bank wants it).
const vakifCPConstant = "VBank3DPay2014"

// VakifCPHash returns the HashedData field of a VakıfBank Common Payment
// RegisterTransaction request: base64(SHA-1(HostMerchantId + AmountCode +
// Amount + MerchantPassword + "VBank3DPay2014")).
func VakifCPHash(hostMerchantID, amountCode, amount, merchantPassword string) string {
	return sha1Base64(hostMerchantID + amountCode + amount + merchantPassword + vakifCPConstant)
}

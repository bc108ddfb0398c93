package est

// Error codes and texts the simulator answers with. Each is marked with its
// origin:
//
//	[doc]   protocol document §1 / Appendix A (fixture named)
//	[table] a public Payten EST error-code table (English text there; the
//	        Turkish text here is the simulator's)
//	[sim]   the simulator's own choice: the document is silent
//
// Relay code should key on ProcReturnCode and mdStatus, not on these
// detail codes; tests may use them to tell cases apart.

// errDef is a Payten error: a detail code (Extra/ERRORCODE in the API,
// ErrorCode or ErrCode in a callback) and its message.
type errDef struct{ Code, Msg string }

// Gateway (3-D gate) errors, posted to failUrl without mdStatus (EST-F4).
var (
	gwMissingField = errDef{"3D-1001", "Zorunlu alan eksik veya tekrarlanmış: "}                                                                 // [sim] + field name
	gwUnknownStore = errDef{"3D-1002", "Üye işyeri bulunamadı."}                                                                                 // [sim]
	gwBadHash      = errDef{"3D-1003", "Hash değeri hatalı."}                                                                                    // [sim]
	gwHashAlgo     = errDef{"3D-1004", "Desteklenmeyen hash algoritması; hashAlgorithm=ver3 gönderiniz."}                                        // [sim]
	gwBadStoreType = errDef{"3D-1005", "Geçersiz storetype."}                                                                                    // [sim]
	gwStoreType    = errDef{"3D-1007", "Isyeri kullanim tipi desteklenmiyor."}                                                                   // [doc] §1.3, comes with mdStatus 7
	gwTranType     = errDef{"CORE-2001", "Gecersiz Islem Tipi. Islem tipi Auth, PreAuth, PostAuth, Credit, Void islemlerinden biri olabilir."}   // [table]
	gwAmount       = errDef{"CORE-2007", "Tutar gecerli formatta degil."}                                                                        // [table]
	gwZeroAmount   = errDef{"CORE-2009", "Satis ve on provizyon icin 0 tutar gecersiz."}                                                         // [table]
	gwCurrency     = errDef{"CORE-2106", "Gecersiz para birimi."}                                                                                // [table]
	gwOrderID      = errDef{"CORE-1015", "Siparis numarasi uzunlugu limit disinda."}                                                             // [table]
	gwDuplicate    = errDef{"CORE-2507", "Siparis numarasi ile daha once basarili islem yapilmis."}                                              // [table]
	gwCardFormat   = errDef{"HPP-1001", "Girilen kart numarası doğru formatta değildir. Kart numarasını kontrol ederek tekrar işlem deneyiniz."} // [doc] EST-F4
	gwExpiry       = errDef{"CORE-2011", "Son kullanma tarihi gecerli formatta degil."}                                                          // [table]
	gwCVV          = errDef{"CORE-2515", "Gecersiz CVV."}                                                                                        // [table]
	gwInstallment  = errDef{"CORE-2603", "Taksit tablosu icin gecersiz deger"}                                                                   // [doc] EST-F7
)

// Authorisation answers in a 3d_pay / 3d_pay_hosting callback.
var (
	authTimeout = errDef{"CORE-2700", "Bankadan zamaninda yanit alinamadi (zaman asimi)."} // [table] code, [sim] use for the "timeout" card
)

// Issuer declines: ProcReturnCode, ERRORCODE ISO8583-xx, text ([sim] texts).
var issuerDeclines = map[string]errDef{
	"51": {"ISO8583-51", "Limit yetersiz."},
	"54": {"ISO8583-54", "Kartın son kullanma tarihi geçmiş."},
	"14": {"ISO8583-14", "Geçersiz kart numarası."},
}

// XML API errors (ProcReturnCode 99 unless noted).
var (
	apiAuth        = errDef{"", "Kullanici adi, sifre veya isyeri numarasi hatali."}                                               // [sim] no detail code
	apiBadXML      = errDef{"CORE-1001", "Istek okunamadi: gecersiz CC5Request XML."}                                              // [sim]
	apiNoType      = errDef{"CORE-2003", "Islem tipi bos."}                                                                        // [table]
	apiBadType     = gwTranType                                                                                                    // [table], text as in the library's fixture
	apiCardFormat  = errDef{"CORE-2012", "Kredi karti numarasi gecerli formatta degil."}                                           // [doc] EST-F2
	apiNoCard      = errDef{"CORE-2015", "Kredi karti numarasi bos."}                                                              // [table]
	apiExpiry      = gwExpiry                                                                                                      // [table]
	apiCVV         = gwCVV                                                                                                         // [table]
	apiInstallment = gwInstallment                                                                                                 // [doc] EST-F7
	apiAmount      = gwAmount                                                                                                      // [table]
	apiZeroAmount  = gwZeroAmount                                                                                                  // [table]
	apiCurrency    = gwCurrency                                                                                                    // [table]
	apiCurrencyMis = errDef{"CORE-2119", "Para birimi orijinal islemle uyusmuyor."}                                                // [table]
	apiDuplicate   = gwDuplicate                                                                                                   // [table]
	apiMDMismatch  = errDef{"CORE-2121", "3D dogrulama bilgileri (md, XID, CAVV, ECI, siparis, tutar) islemle uyusmuyor."}         // [table] code, [sim] also for unknown md and amount mismatch
	apiMDReused    = errDef{"CORE-2127", "Ayni XID birden fazla 3D islemde kullanilmis."}                                          // [table]
	apiMDStatus    = errDef{"CORE-2206", "Gecersiz MD Status degeri."}                                                             // [table]
	apiNoPreAuth   = errDef{"CORE-2509", "Kapatilacak on provizyon bulunamadi."}                                                   // [table]
	apiNotPreAuth  = errDef{"CORE-2115", "PostAuth yalnizca PreAuth islemi icin yapilabilir."}                                     // [table]
	apiCaptured    = errDef{"CORE-2506", "Net tutar sifir; on provizyon zaten kapatilmis."}                                        // [table]
	apiOverPreAuth = errDef{"CORE-2512", "On provizyon tutarinin uzerinde islem yetkisi yok."}                                     // [table]
	apiNoVoid      = errDef{"CORE-2008", "İptal edilmeye uygun satış işlemi bulunamadı."}                                          // [doc] EST-F17
	apiVoidSettled = errDef{"CORE-2008", "İptal edilmeye uygun satış işlemi bulunamadı. Sipariş gün sonuna girmiş; iade yapınız."} // [sim] text; code as EST-F17
	apiNoRefund    = errDef{"CORE-2123", "Iade edilecek siparis bulunamadi."}                                                      // [table]
	apiNotSettled  = errDef{"CORE-2508", "Iade yapilamaz, siparis gunsonuna girmemis."}                                            // [doc] EST-F20
	apiOverRefund  = errDef{"CORE-2503", "Net tutardan fazla iade yapilamaz."}                                                     // [table]
	apiZeroNet     = errDef{"215021", "Net Tutar 0."}                                                                              // [doc] EST-F21: Declined, no ProcReturnCode
)

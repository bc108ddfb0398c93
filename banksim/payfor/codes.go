package payfor

// Codes and texts the simulator answers with. Each is marked with its
// origin:
//
//	[doc]   protocol document §2 / Appendix A (fixture named)
//	[table] Appendix B.1 (CP.VPOS QNBFinansbank.cs), text verbatim
//	[sim]   the simulator's own choice where the document is silent
//
// Relay code keys on ProcReturnCode (and 3DStatus); texts are for people.

// errDef is a PayFor answer: ProcReturnCode and ErrMsg.
type errDef struct{ Code, Msg string }

var (
	codeOK          = errDef{"00", "Onaylandı"}                                                                       // [doc] PF-F1
	code3DOK        = errDef{"V033", "3D Kullanıcı Doğrulama Adımı Başarılı"}                                         // [doc] PF-F4
	code3DFail      = errDef{"V034", "3D Kullanıcı Doğrulama Adımı Başarısız"}                                        // [doc] PF-F6
	codeMR15        = errDef{"MR15", "3D Secure Authorize Error"}                                                     // [doc] PF-F9
	codePending     = errDef{"V000", "İşlem tamamlanamadı / Devam ediyor"}                                            // [table] the "timeout" card in 3DPay/3DHost
	codeIPRestrict  = errDef{"M047", "Bu kullanıcı için IP kısıtlaması vardır."}                                      // [doc] §2.4, issue #302
	codeHash        = errDef{"M030", "HASH Uyusmazlıgı"}                                                              // [table]
	codeDuplicate   = errDef{"101310", "Verilen sipariş no önceden kullanılmıştır."}                                  // [doc] PF-F7
	codeNotFound    = errDef{"V013", "Seçili İşlem Bulunamadı!"}                                                      // [doc] PF-F3, PF-F12, PF-F14
	codeRefundEOD   = errDef{"V014", "Bu işlem geri alınamaz, lüften asıl işlemi iptal edin."}                        // [doc] PF-F15
	codeOverRefund  = errDef{"V015", "Girilen iade miktari asıl işlem tutarından büyük olamaz"}                       // [table]
	codeNotPreAuth  = errDef{"V016", "Seçili İşlem ön provizyon işlemi değildir !"}                                   // [table]
	codeVoided      = errDef{"V017", "Bu sipariş zaten iptal edildi."}                                                // [table]
	codeNoVoid      = errDef{"V018", "Bu işlem iptal edilemez."}                                                      // [table] [sim] for a settled sale
	codeNotDone     = errDef{"V020", "Bu işlem henüz tamamlanmamıştır"}                                               // [table] [sim] refund of an uncaptured pre-auth
	codeInstMissing = errDef{"V023", "Taksit sayısı belirtilmelidir."}                                                // [table]
	codeInstPreAuth = errDef{"V024", "Taksit sayısı belirtilen işlem tipi için sıfırdan büyük olamaz"}                // [table]
	codeCaptured    = errDef{"V025", "Bu provizyon önceden kapatılmıştır."}                                           // [table]
	codeCaptureAmt  = errDef{"V027", "Girilen tutar orjinal tutarin %15 kadar fazla veya eksik girilebilir."}         // [table]
	codeSystem      = errDef{"V036", "Sistem Hatası"}                                                                 // [doc] §2.8: OrderId differs from the 3-D request (issue #283)
	codeRefunded    = errDef{"V037", "Sipariş daha once iade edilmistir."}                                            // [table]
	codeMerchant    = errDef{"V001", "Üye isyeri bulma hatası."}                                                      // [table] [sim] MerchantID/MbrId not this account's
	codeUser        = errDef{"V004", "Kullanıcı Doğrulanamadı."}                                                      // [table] [sim] UserCode/UserPass wrong
	codeNoMbrID     = errDef{"M013", "Kurum kodu eksik."}                                                             // [table]
	codeNoMerchant  = errDef{"M024", "Üye işyeri Numarası eksik."}                                                    // [table]
	codeNoUser      = errDef{"M016", "Kullanıci kodu eksik."}                                                         // [table]
	codeNoPass      = errDef{"M017", "Kullanıcı şifresi eksik."}                                                      // [table]
	codeSecureType  = errDef{"M014", "Bilinmeyen Güvenlik tipi."}                                                     // [table]
	codeWrongSecure = errDef{"M026", "Bu işlem tipi için hatalı güvenlik tipi"}                                       // [table] [sim] 3DHost on Default.aspx and vice versa
	codeSecureTxn   = errDef{"M021", "Bu işlem tipi için geçersiz güvenlik tipi"}                                     // [table]
	codeTxnType     = errDef{"M015", "Bilinmeyen İşlem tipi."}                                                        // [table]
	codeNoOrder     = errDef{"M028", "Bu İşlem tipi için sipariş numarası boş olamaz"}                                // [table]
	codeFieldLength = errDef{"M025", "{0} alani hatali uzunlukta Gelen : {1} Olmasi Gereken : {2}"}                   // [table] [sim] a missing field (MOTO, Rnd…)
	codeBadValue    = errDef{"M048", "Hatali Deger"}                                                                  // [table] [sim] Lang, MOTO, InstallmentCount
	codeAmount      = errDef{"M012", "Satın alma miktari eksik yada geçersiz uzunlukta."}                             // [table]
	codeZeroAmount  = errDef{"M004", "Sıfır veya boş veya hatalı miktar."}                                            // [table]
	codeAmountRange = errDef{"M019", "İşlem tutarı 0,01 - 200.000 arasında olmalıdır."}                               // [table]
	codeNoCurrency  = errDef{"M003", "Para birimi kodu eksik."}                                                       // [table]
	codeCurrency    = errDef{"M002", "Para birimi kodu geçersiz."}                                                    // [table]
	codeNoCVV       = errDef{"M005", "CVV2 boş olamaz."}                                                              // [table]
	codeExpiry      = errDef{"M006", "Son kullanma tarihi eksik yada hatalı , 4 karakter olmalıdır"}                  // [table]
	codePANLength   = errDef{"M008", "Pan eksik yada geçersiz uzunlukta. Pan 13 ile 19 karakter arasında olmalıdır."} // [table]
	codeBadCVV      = errDef{"M018", "Hatalı Cvv2 "}                                                                  // [table] "{0}" left empty
	codeBadPAN      = errDef{"M041", "Geçersiz kart Numarası"}                                                        // [table], PF-F2
	codeNoFailURL   = errDef{"M007", "FailUrl eksik."}                                                                // [table]
	codeBadOkURL    = errDef{"M010", "OkUrl hatalı."}                                                                 // [table]
	codeEmpty       = errDef{"M043", "Request formu boş olamaz"}                                                      // [table] [sim] empty or unreadable XMLGate body
)

// Issuer declines: ProcReturnCode and text ([table] ISO rows).
var issuerDeclines = map[string]errDef{
	"51": {"51", "Limit Yetersiz"},
	"54": {"54", "Süresi Dolmus Kart"},
	"14": {"14", "Geçersiz Hesap Numarası"},
}

// notEnrolledDet is the IrcDet of a card the MPI cannot authenticate. [sim]
const notEnrolledDet = "Kart 3D Secure programına kayıtlı değil"

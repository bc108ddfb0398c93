package vakif

// Codes and texts the simulator answers with, each marked with its origin:
//
//	[doc]   protocol document §3 / Appendix A (fixture or issue named)
//	[table] Appendix B.2 (code and text from the bank's table)
//	[sim]   the simulator's own choice where the document is silent; the
//	        code comes from the table where one fits
//
// Relay code keys on the codes; tests may use the texts.

// errDef is a VakıfBank code and its text.
type errDef struct{ Code, Msg string }

// Answers to server calls from an unregistered address, any endpoint.
var errIP = errDef{"1105", "Üye isyeri IP si sistemde tanimli degil"} // [doc] VB-F1, issue #60

// poxMessage is the VPOS's answer to a post without prmstr. [doc] issue #60
const poxMessage = "POX Request Adresine istek yapıyorsunuz. Mesaj Boş Geldi. İstek Xml Mesajını prmstr parametresi ile iletiniz."

// MPI enrollment (VERes E with MessageErrorCode).
var (
	mpiMerchant     = errDef{"2005", "Merchant cannot be found for this bank"}                                                                                           // [doc] issue #115
	mpiField        = errDef{"9026", "İstek Bilgisi Hatalı: "}                                                                                                           // [table] + field name, [sim] use
	mpiAmount       = errDef{"1049", "Geçersiz Tutar."}                                                                                                                  // [table]
	mpiCurrency     = errDef{"1077", "Para Kodu Hatali"}                                                                                                                 // [table]
	mpiPAN          = errDef{"1051", "Kredi Karti Numarasi Hatali."}                                                                                                     // [table]
	mpiExpiry       = errDef{"1052", "Kart Vadesi Hatalı Veya Vade Formatı Hatalı"}                                                                                      // [table]
	mpiBrand        = errDef{"1100", "Lütfen Geçerli Bir Brand Girisi Yapin."}                                                                                           // [table]
	mpiInstallments = errDef{"1060", "Hatali Taksit Sayisi."}                                                                                                            // [table]; 0 and 1 refused (sefacan/3DPayment PR #6)
	mpiDuplicateID  = errDef{"1006", "Bu İşlem Numarası İle Daha Önce Bir İslem Gerçekleştirilmiş, İşleme Yeni Bir Numara Verebilir Yada Bu Alanı Boş Bırakabilirsiniz"} // [table]
	mpiRecurring    = errDef{"1148", "Üye İş Yeri Yetkileri Arasında Tekrarlı Tahsilat Yetkisi Bulunmamaktadır."}                                                        // [table]
)

// VPOS (ResultCode).
var (
	vposBadXML       = errDef{"9025", "Hatalı İstek."}                                                              // [table]
	vposMerchant     = errDef{"9039", "Üye işyeri bulunamadı."}                                                     // [doc] VB-F7
	vposTerminal     = errDef{"1125", "Terminal Bulunamadi"}                                                        // [table]
	vposType         = errDef{"1082", "Geçersiz İslem Tipi"}                                                        // [table]
	vposNonSecure    = errDef{"1111", "Bu Üye İşyeri Non Secure İşlem Yapamaz"}                                     // [table]; the account is 3-D only
	vposCardIn3D     = errDef{"1127", "3Ds İşlemlerde Kart Bilgisi Veya Tutar Provizyon Mesajında Yer Almamalıdır"} // [doc] §3A.8
	vposNoMPI        = errDef{"1114", "MpiTransactionId Alanı Boş Gönderilmiş"}                                     // [table]
	vposUnknownMPI   = errDef{"1115", "MpiTransaction Bulunamıyor"}                                                 // [table]
	vposMPIUsed      = errDef{"1128", "MpiTransactionId Daha Önce Başka Bir İşlem İçin Kullanılmış"}                // [table]
	vposMPIMismatch  = errDef{"1126", "Mpi İşlemindeki Veriler İle Uyumsuz"}                                        // [doc] issue #60; also a failed MPI transaction [sim]
	vposECI          = errDef{"1116", "Eci Değeri Mpı İle Uyumsuz"}                                                 // [table]
	vposCAVV         = errDef{"1117", "Cavv Değeri Mpı İle Uyumsuz"}                                                // [table]
	vposNoECI        = errDef{"1098", "Lütfen Geçerli Bir Ecı Degeri Giriniz"}                                      // [table]
	vposNoCAVV       = errDef{"1097", "Lütfen Geçerli Bir Cavv Degeri Giriniz"}                                     // [table]
	vposNoClientIP   = errDef{"1096", "Provizyon Talep Mesajına ClientIp Değerini Gönderiniz."}                     // [table]
	vposNoDevice     = errDef{"1121", "TransactionDeviceSource Alanının Gönderilmesi Zorunludur."}                  // [table]
	vposOrderID      = errDef{"1078", "Geçersiz Siparis Numarasi"}                                                  // [table]
	vposDuplicate    = errDef{"1061", "Ayni Siparis Numarasiyla Daha Önceden Basarili İslem Yapilmis"}              // [table]
	vposInstallments = errDef{"1060", "Hatali Taksit Sayisi."}                                                      // [table]
	vposAmount       = errDef{"1049", "Geçersiz Tutar."}                                                            // [table]
	vposCurrency     = errDef{"1077", "Para Kodu Hatali"}                                                           // [table]
	vposNoReference  = errDef{"1007", "Referans Transaction Alinamadi"}                                             // [table]
	vposNotPreAuth   = errDef{"1089", "Referans İslem Yapilmak İstenen İslem İçin Uygun Degil"}                     // [table]
	vposCaptured     = errDef{"1065", "Ön Provizyon Daha Önceden Kapatilmis"}                                       // [table]
	vposOverPreAuth  = errDef{"0323", "Önpr. Kapama Tutar Eşlenmedi"}                                               // [table]
	vposPreAuthVoid  = errDef{"1088", "Önprovizyon İptal Edilmis"}                                                  // [table]
	vposCancelled    = errDef{"1083", "Referans islem daha önceden iptal edilmis."}                                 // [doc] VB-F11
	vposBatchClosed  = errDef{"2202", "Islem İptal Edilemez. ( Batch Kapali )"}                                     // [table]; cancel after end of day
	vposCaptureVoid  = errDef{"0971", "Eşleşmiş (Capture) Bir İşlem İptal Edilemez"}                                // [table]
	vposNotSettled   = errDef{"1074", "Islem Henüz Sonlanmamis Yada Referans İslem Henüz Tamamlanmamis."}           // [table]; [sim] refund before end of day
	vposRefundedAll  = errDef{"1059", "İşlemin tamamı iade edilmiş."}                                               // [doc] VB-F9
	vposOverRefund   = errDef{"1046", "Toplam İade Tutarı Orjinal Tutarı Aştı."}                                    // [table]
	vposRefundVoided = errDef{"0982", "İşlem İptal Durumda. İade Edilemez"}                                         // [table]
	vposNoOriginal   = errDef{"0983", "İade Edilecek İşlemin Orijinali Bulunamadı"}                                 // [table]
	vposNotCaptured  = errDef{"1089", "Referans İslem Yapilmak İstenen İslem İçin Uygun Degil"}                     // [table]; refund of an open pre-authorisation
)

// Issuer answers (ResultCode / Rc) by test card.
var (
	approved      = errDef{"0000", "İŞLEM BAŞARILI"}                     // [doc] VB-F4
	declinedFunds = errDef{"0051", "RED-BAKİYESİ-KREDİ LİMİTİ YETERSİZ"} // [table] code, [sim] text in the fixtures' style
	declinedExp   = errDef{"0054", "RED-VADE SONU GEÇMİŞ KART"}          // [table] code, [sim] text
	declinedCard  = errDef{"0014", "RED-GEÇERSİZ KART NUMARASI"}         // [table] code, [sim] text
)

// Search (ResponseInfo/ResponseCode).
var (
	searchMerchant = errDef{"9065", "Üye isyeri bulunamadi"}           // [doc] VB-F12
	searchCriteria = errDef{"4005", "En Az Bir Sorgu Kriteri Zorunlu"} // [table]
	searchBadXML   = errDef{"9025", "Hatalı İstek."}                   // [table]
)

// Common Payment (ErrorCode, Rc).
var (
	cpSecurity     = errDef{"5007", "Güvenlik Numarası Hatalı"}                                       // [doc] register fixture; wrong password
	cpInvalid      = errDef{"5029", "Geçersiz İstek"}                                                 // [doc] §3B; also a wrong HashedData and card fields on this 3D Host account [sim]
	cpMerchant     = errDef{"9039", "Üye İşyeri Bulunamadı."}                                         // [table]
	cpTerminal     = errDef{"2013", "Terminal Bulunamadı."}                                           // [table]
	cpAmount       = errDef{"1049", "Geçersiz Tutar."}                                                // [table]
	cpCurrency     = errDef{"1077", "Para Kodu Hatali"}                                               // [table]
	cpOrderID      = errDef{"1078", "Geçersiz Siparis Numarasi"}                                      // [table]
	cpType         = errDef{"1082", "Geçersiz İslem Tipi"}                                            // [table]
	cpInstallments = errDef{"1060", "Hatali Taksit Sayisi."}                                          // [table]
	cpDuplicate    = errDef{"1061", "Ayni Siparis Numarasiyla Daha Önceden Basarili İslem Yapilmis"}  // [table]
	cpNoTxn        = errDef{"9067", "Transaction Numarası Hatalı"}                                    // [table]; [sim] no result for the token (yet)
	cpNotEnrolled  = errDef{"2053", "VeRes status is N Message : Card is not enrolled in 3-D Secure"} // [doc] CP-F1 shape, [sim] status N
	err3DSFailed   = errDef{"0400", "3D Secure Şifre Doğrulaması Yapılamadı"}                         // [table]; [sim] a failed challenge (MPI callback ErrorCode, Common Payment Rc), also a refused attempt
)

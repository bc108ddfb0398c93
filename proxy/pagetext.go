package proxy

// pageText holds the shopper pages' words in Turkish and English.
type pageText struct {
	Lang, Title, Secure, Amount, Order, Merchant                         string
	CardNumber, Expiry, Month, Year, CVV, Holder, Installments, Single   string
	Pay, Cancel, Continue, ContinueHint, Redirecting, Processing, Wait   string
	Done, Failed, Canceled, Expired, BackToShop, TryAgain, NotFound      string
	InProgress, BankUnavailable, VerifyFailed, CardNumberHelp, OtherLang string
	OtherLangCode, ErrCardNumber, ErrExpiry, ErrCVV, ErrHolder, ErrInst  string
	Unknown                                                              string
}

var texts = map[string]*pageText{
	"tr": {
		Lang: "tr", Title: "Güvenli ödeme", Secure: "Ödemeniz bankanızın 3D Secure doğrulamasıyla korunur.",
		Amount: "Tutar", Order: "Sipariş", Merchant: "Mağaza",
		CardNumber: "Kart numarası", Expiry: "Son kullanma tarihi", Month: "Ay", Year: "Yıl", CVV: "Güvenlik kodu (CVV)",
		Holder: "Kart üzerindeki isim", Installments: "Taksit", Single: "Tek çekim",
		Pay: "Öde", Cancel: "Ödemeden vazgeç", Continue: "Bankanın güvenli sayfasına devam et",
		ContinueHint: "Devam etmek için düğmeye basın.", Redirecting: "Bankanızın güvenli ödeme sayfasına yönlendiriliyorsunuz…",
		Processing: "Ödemeniz bankayla teyit ediliyor…", Wait: "Lütfen bu sayfayı kapatmayın.",
		Done: "Ödemeniz onaylandı.", Failed: "Ödeme tamamlanamadı.", Canceled: "Ödeme iptal edildi.", Expired: "Ödeme süresi doldu.",
		BackToShop: "Mağazaya dön", TryAgain: "Tekrar dene", NotFound: "Bu ödeme bağlantısı geçerli değil veya süresi dolmuş.",
		InProgress:      "Bu ödeme bankanın sayfasında devam ediyor. Banka sayfasını kapattıysanız birkaç dakika içinde sonuçlanacaktır.",
		BankUnavailable: "Bankaya şu anda ulaşılamadı; lütfen tekrar deneyin.",
		VerifyFailed:    "Bankadan gelen yanıt doğrulanamadı; ödemeniz değişmedi.",
		CardNumberHelp:  "Kart bilgileriniz yalnızca bankaya iletilir, saklanmaz.",
		OtherLang:       "English", OtherLangCode: "en",
		ErrCardNumber: "Kart numarasını kontrol edin.", ErrExpiry: "Son kullanma tarihini kontrol edin.",
		ErrCVV: "Güvenlik kodu 3 haneli (American Express kartlarında 4 haneli) olmalıdır.", ErrHolder: "Kart üzerindeki ismi yazın.", ErrInst: "Geçerli bir taksit seçin.",
		Unknown: "Ödemenizin sonucu bankadan teyit ediliyor. Sonuç mağazaya otomatik olarak iletilecek.",
	},
	"en": {
		Lang: "en", Title: "Secure payment", Secure: "Your payment is protected by your bank's 3-D Secure check.",
		Amount: "Amount", Order: "Order", Merchant: "Shop",
		CardNumber: "Card number", Expiry: "Expiry date", Month: "Month", Year: "Year", CVV: "Security code (CVV)",
		Holder: "Name on card", Installments: "Installments", Single: "Single payment",
		Pay: "Pay", Cancel: "Cancel payment", Continue: "Continue to the bank's secure page",
		ContinueHint: "Press the button to continue.", Redirecting: "Taking you to your bank's secure payment page…",
		Processing: "Confirming your payment with the bank…", Wait: "Please keep this page open.",
		Done: "Your payment was approved.", Failed: "The payment could not be completed.", Canceled: "The payment was canceled.", Expired: "The payment expired.",
		BackToShop: "Back to the shop", TryAgain: "Try again", NotFound: "This payment link is not valid or has expired.",
		InProgress:      "This payment is in progress on the bank's page. If you closed it, the payment will be settled within a few minutes.",
		BankUnavailable: "The bank could not be reached right now; please try again.",
		VerifyFailed:    "The bank's answer could not be verified; your payment was not changed.",
		CardNumberHelp:  "Your card details go only to the bank and are not stored.",
		OtherLang:       "Türkçe", OtherLangCode: "tr",
		ErrCardNumber: "Check the card number.", ErrExpiry: "Check the expiry date.",
		ErrCVV: "The security code has 3 digits (4 on American Express cards).", ErrHolder: "Enter the name on the card.", ErrInst: "Choose valid installments.",
		Unknown: "The result of your payment is being confirmed with the bank. The shop will be told automatically.",
	},
}

func textFor(lang string) *pageText {
	if t, ok := texts[lang]; ok {
		return t
	}
	return texts["tr"]
}

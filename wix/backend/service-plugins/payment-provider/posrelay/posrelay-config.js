// posrelay payment provider: what Wix shows on the Connect, Accept Payments
// and Checkout pages. Paste into the -config.js file Wix created for the
// payment service plugin named "posrelay". Wix reads it when you publish.
//
// The relay's address and key stay in the Secrets Manager (see README);
// the fields below are not secret.

export function getConfig() {
  return {
    title: 'Kredi / banka kartı (3D Secure)',
    paymentMethods: [{
      hostedPage: {
        title: 'Kredi / banka kartı',
        billingAddressMandatoryFields: ['EMAIL'],
      },
    }],
    credentialsFields: [
      {
        dropdownField: {
          name: 'bank',
          label: 'Bank (your virtual POS at the relay)',
          options: [
            { key: 'halkbank', value: 'Halkbank' },
            { key: 'qnb', value: 'QNB Finansbank' },
            { key: 'vakifbank', value: 'VakıfBank' },
          ],
        },
      },
      {
        simpleField: {
          name: 'keyId',
          label: 'Relay key id (optional; must match the posrelay_key_id secret)',
        },
      },
    ],
  };
}

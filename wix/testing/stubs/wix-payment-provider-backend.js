// Stand-in for Velo's wix-payment-provider-backend: submitEvent records
// what it was given (a deep copy) and can be told to fail.
export const submitted = [];
export const control = { failNext: 0 };

export async function submitEvent(request) {
  if (control.failNext > 0) {
    control.failNext--;
    throw new Error('submitEvent stand-in: told to fail');
  }
  submitted.push(JSON.parse(JSON.stringify(request)));
}

export default { submitEvent };

// How the pages show errors, shared by the three (app.js, fashion.js, train.js):
//  - the toast: #error-box holding the message #error and its dismiss button #error-close;
//  - an argument's error beside its control: p.arg-error#arg-error-ID (data-testid the same),
//    made on first use and placed after the control #ID (after its enclosing label, for a
//    checkbox inside one), so it sits inside the control's `.control` box.
// Status changes ('error') are the caller's: these only show and hide messages.

const $ = (id) => document.getElementById(id);

export function showError(message) {
  $('error').textContent = message;
  $('error-box').hidden = false;
}

export function clearError() {
  $('error-box').hidden = true;
  $('error').textContent = '';
}

// The toast's × hides it.
export function wireErrorClose() {
  $('error-close').addEventListener('click', clearError);
}

export function showFieldError(id, message) {
  let p = $(`arg-error-${id}`);
  if (!p) {
    p = Object.assign(document.createElement('p'), { className: 'arg-error', id: `arg-error-${id}` });
    p.dataset.testid = `arg-error-${id}`;
    p.setAttribute('role', 'alert');
    ($(id).closest('label') || $(id)).after(p);
  }
  p.textContent = message;
  p.hidden = false;
}

export function clearFieldErrors() {
  for (const p of document.querySelectorAll('p.arg-error')) {
    p.hidden = true;
    p.textContent = '';
  }
}

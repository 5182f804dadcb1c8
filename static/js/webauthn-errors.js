// allauth's WebAuthn script (mfa/js/webauthn.js) reports a key request that failed or was
// cancelled as an "allauth.error" event and, unless someone handles it, only logs it to
// the console, where nobody looks. Say it on the page instead, next to the other messages.
(function () {
  'use strict'

  var MESSAGES = {
    NotAllowedError: 'The security key did not answer, or the request was cancelled. Try again.',
    InvalidStateError: 'This security key is already added to your account.',
    SecurityError: 'Security keys work only over HTTPS, on the site\'s own address.'
  }
  var FALLBACK = 'The security key could not be used. Try again, or use another second factor.'

  document.addEventListener('allauth.error', function (event) {
    event.preventDefault()
    var error = event.detail && event.detail.exception
    var text = (error && MESSAGES[error.name]) || FALLBACK
    var main = document.getElementById('main') || document.body
    var note = document.getElementById('webauthn-error')
    if (!note) {
      note = document.createElement('p')
      note.id = 'webauthn-error'
      note.className = 'message error'
      note.setAttribute('role', 'alert')
      main.insertBefore(note, main.firstChild)
    }
    note.textContent = text
  })
})()

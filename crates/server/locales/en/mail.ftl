# Mails. Each is written twice from the same messages: as text and as HTML
# (templates/mail/letter.txt and letter.html).
mail-link-note = If the button does not work, copy this address into your browser:
mail-footer = This mail was sent by Accord, the account service you use. Replies are not read: answer the organisation that manages your account.
mail-verify-subject = Confirm your email address
mail-verify-intro = Someone registered this address with an account, or asked to confirm it.
mail-verify-action = To confirm that it is yours, open this link within { $hours ->
    [one] one hour
   *[other] { $hours } hours
} and press its button.
mail-verify-button = Confirm my address
mail-verify-code = An application may instead send this code to POST /v1/user/email/verify:
mail-verify-closing = The link works once. If this was not you, ignore this mail, or reset the password of the account with this address to take it over.
mail-reset-subject = Reset your password
mail-reset-intro = Someone asked to reset the password of the account with this address.
mail-reset-action = To choose a new password, follow this link within { $minutes ->
    [one] one minute
   *[other] { $minutes } minutes
}.
mail-reset-button = Choose a new password
mail-reset-code = Or an application sends this code with your new password to POST /v1/user/password/forgot/confirm:
mail-reset-closing = The link works once. If you did not ask for this, ignore this mail: your password is unchanged.
mail-email-change-subject = Confirm your new email address
mail-email-change-intro = Someone asked to move an account to this address.
mail-email-change-action = To confirm that it is yours and make it the account's address, open this link within { $hours ->
    [one] one hour
   *[other] { $hours } hours
} and press its button.
mail-email-change-button = Make it my address
mail-email-change-closing = The link works once. If this was not you, ignore this mail: nothing changes.
mail-address-changed-subject = Your email address was changed
mail-address-changed-intro = The email address of your account was changed to { $address }. From now on mail about the account goes there, and this address no longer signs in.
mail-address-changed-intro-unnamed = The email address of your account was changed to another one. From now on mail about the account goes there, and this address no longer signs in.
mail-address-changed-by-holder = The change needed the account's password: if it was not you, someone knows your password. Contact the organisation that manages your account.
mail-address-changed-by-organisation = If you did not expect this, contact the organisation that manages your account.
mail-invitation-subject = You are invited
mail-invitation-to-role = You are invited to hold the role { $what } at { $organisation }.
mail-invitation-to-register = You are invited to register your account.
mail-invitation-to-complete = You are invited to complete the account you registered.
mail-invitation-action = To accept, follow this link within { $days ->
    [one] one day
   *[other] { $days } days
}.
mail-invitation-button = Accept the invitation
mail-invitation-code = An application may instead send this code, with the password, to POST /v1/invitations/{"{"}token{"}"}/accept:
mail-invitation-closing = The link works once. If you did not expect this, ignore this mail.
mail-offer-subscription-subject = { $organisation } asks you to subscribe to it
mail-offer-role-subject = { $organisation } offers you the role { $what }
mail-offer-closing = Nothing changes unless you accept. Sign in with your application to accept or decline. If you do not know { $organisation }, decline or ignore it.
mail-data-request-subject = { $organisation }: your data request
mail-data-request-download = Your request to { $organisation } for a copy of your data: { $state ->
    [initiated] received
    [acknowledged] acknowledged by the organisation
    [processed] answered
    [processed-without-action] answered, without action
   *[cancelled] cancelled by you
}.
mail-data-request-delete = Your request to { $organisation } to delete your data: { $state ->
    [initiated] received
    [acknowledged] acknowledged by the organisation
    [processed] carried out
    [processed-without-action] answered, without action
   *[cancelled] cancelled by you
}.
mail-data-request-comment = The organisation's comment: { $what }
mail-data-request-dates = Requested on { $date }; the organisation's answer is due by { $due }.
mail-notice-from = A notice from { $organisation }:
mail-reconsent-subject = { $organisation } has changed what it asks your consent for
mail-reconsent-changed = { $organisation } has changed the wording of “{ $what }”, a purpose you consented to.
mail-reconsent-version = You consented to an earlier wording; the new one is version { $version }. Please read it and answer again.
mail-reconsent-stands = Until you answer, your earlier consent stands as you gave it.
mail-reconsent-lapses = Unless you answer, your earlier consent lapses { $days ->
    [one] one day
   *[other] { $days } days
} after the change.
mail-reconsent-closing = Answer in { $organisation }'s app, or in any application that manages your consents. If you do not know { $organisation }, ignore this mail.

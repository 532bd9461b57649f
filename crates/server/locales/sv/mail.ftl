# Mejl. Vart och ett skrivs två gånger av samma meddelanden: som text och som HTML
# (templates/mail/letter.txt och letter.html).
mail-link-note = Om knappen inte fungerar, kopiera den här adressen till din webbläsare:
mail-footer = Det här mejlet skickades av Accord, den kontotjänst du använder. Svar läses inte: vänd dig till organisationen som förvaltar ditt konto.
mail-verify-subject = Bekräfta din e-postadress
mail-verify-intro = Någon har registrerat den här adressen för ett konto, eller bett att få den bekräftad.
mail-verify-action = Bekräfta att den är din genom att öppna den här länken inom { $hours ->
    [one] en timme
   *[other] { $hours } timmar
} och trycka på knappen.
mail-verify-button = Bekräfta min adress
mail-verify-code = En app kan i stället skicka den här koden till POST /v1/user/email/verify:
mail-verify-closing = Länken fungerar en gång. Om det inte var du kan du strunta i det här mejlet, eller återställa lösenordet för kontot med den här adressen för att ta över det.
mail-reset-subject = Återställ ditt lösenord
mail-reset-intro = Någon har bett om att få återställa lösenordet för kontot med den här adressen.
mail-reset-action = Välj ett nytt lösenord genom att följa den här länken inom { $minutes ->
    [one] en minut
   *[other] { $minutes } minuter
}.
mail-reset-button = Välj ett nytt lösenord
mail-reset-code = Eller så skickar en app den här koden med ditt nya lösenord till POST /v1/user/password/forgot/confirm:
mail-reset-closing = Länken fungerar en gång. Om du inte bad om detta kan du strunta i det här mejlet: ditt lösenord är oförändrat.
mail-email-change-subject = Bekräfta din nya e-postadress
mail-email-change-intro = Någon har bett om att få flytta ett konto till den här adressen.
mail-email-change-action = Bekräfta att den är din och gör den till kontots adress genom att öppna den här länken inom { $hours ->
    [one] en timme
   *[other] { $hours } timmar
} och trycka på knappen.
mail-email-change-button = Gör den till min adress
mail-email-change-closing = Länken fungerar en gång. Om det inte var du kan du strunta i det här mejlet: ingenting ändras.
mail-address-changed-subject = Din e-postadress har ändrats
mail-address-changed-intro = E-postadressen för ditt konto har ändrats till { $address }. Från och med nu går mejl om kontot dit, och den här adressen kan inte längre användas för att logga in.
mail-address-changed-intro-unnamed = E-postadressen för ditt konto har ändrats till en annan. Från och med nu går mejl om kontot dit, och den här adressen kan inte längre användas för att logga in.
mail-address-changed-by-holder = Ändringen krävde kontots lösenord: om det inte var du känner någon till ditt lösenord. Kontakta organisationen som förvaltar ditt konto.
mail-address-changed-by-organisation = Om du inte väntade dig detta, kontakta organisationen som förvaltar ditt konto.
mail-invitation-subject = Du är inbjuden
mail-invitation-to-role = Du är inbjuden att ha rollen { $what } hos { $organisation }.
mail-invitation-to-register = Du är inbjuden att registrera ditt konto.
mail-invitation-to-complete = Du är inbjuden att slutföra kontot du registrerade.
mail-invitation-action = Tacka ja genom att följa den här länken inom { $days ->
    [one] en dag
   *[other] { $days } dagar
}.
mail-invitation-button = Tacka ja till inbjudan
mail-invitation-code = En app kan i stället skicka den här koden, med lösenordet, till POST /v1/invitations/{"{"}token{"}"}/accept:
mail-invitation-closing = Länken fungerar en gång. Om du inte väntade dig detta kan du strunta i det här mejlet.
mail-offer-subscription-subject = { $organisation } ber dig prenumerera
mail-offer-role-subject = { $organisation } erbjuder dig rollen { $what }
mail-offer-closing = Ingenting ändras om du inte tackar ja. Logga in med din app för att tacka ja eller nej. Om du inte känner till { $organisation }, tacka nej eller strunta i det.
mail-data-request-subject = { $organisation }: din begäran om dina uppgifter
mail-data-request-download = Din begäran till { $organisation } om en kopia av dina uppgifter: { $state ->
    [initiated] mottagen
    [acknowledged] bekräftad av organisationen
    [processed] besvarad
    [processed-without-action] besvarad, utan åtgärd
   *[cancelled] återkallad av dig
}.
mail-data-request-delete = Din begäran till { $organisation } om att radera dina uppgifter: { $state ->
    [initiated] mottagen
    [acknowledged] bekräftad av organisationen
    [processed] genomförd
    [processed-without-action] besvarad, utan åtgärd
   *[cancelled] återkallad av dig
}.
mail-data-request-comment = Organisationens kommentar: { $what }
mail-data-request-dates = Begärd { $date }; organisationens svar ska komma senast { $due }.
mail-notice-from = Ett meddelande från { $organisation }:
mail-reconsent-subject = { $organisation } har ändrat det som du har samtyckt till
mail-reconsent-changed = { $organisation } har ändrat lydelsen för ”{ $what }”, ett ändamål som du har samtyckt till.
mail-reconsent-version = Du samtyckte till en tidigare lydelse; den nya är version { $version }. Läs den och svara igen.
mail-reconsent-stands = Tills du svarar gäller ditt tidigare samtycke som du gav det.
mail-reconsent-lapses = Om du inte svarar upphör ditt tidigare samtycke { $days ->
    [one] en dag
   *[other] { $days } dagar
} efter ändringen.
mail-reconsent-closing = Svara i appen från { $organisation }, eller i en annan app som hanterar dina samtycken. Om du inte känner till { $organisation } kan du strunta i det här mejlet.

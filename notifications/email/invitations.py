"""The lost-sales invitation a customer receives (seed 001): a short, personal mail in the customer's
language with the link to the survey, and the one reminder."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.lost_sales import LinkedInvitation
from notifications.email.render import ENV, Mail

DAY = {"en": "%d %B %Y", "da": "%d.%m.%Y", "de": "%d.%m.%Y"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Your test drive at {dealer}: two quick questions",
        "reminder_subject": "Reminder: your test drive at {dealer}",
        "greeting": "Dear {name},",
        "greeting_plain": "Hello,",
        "intro": "Thank you for booking a test drive with {dealer} a while ago. We would like to know where you stand now: are you still considering a new car, and may the dealer contact you? It takes a minute.",
        "reminder_intro": "A week ago we asked you about your test drive with {dealer}. If you have a minute, we would still like to hear from you.",
        "button": "Answer the two questions",
        "valid": "The link is personal and works until {day}.",
        "footer": "You receive this mail because you asked {dealer} for a test drive and agreed to be contacted by email. If you do not want such mail, simply ignore it: you will get one reminder at most.",
    },
    "da": {
        "subject": "Din prøvetur hos {dealer}: to hurtige spørgsmål",
        "reminder_subject": "Påmindelse: din prøvetur hos {dealer}",
        "greeting": "Kære {name},",
        "greeting_plain": "Hej,",
        "intro": "Tak fordi du bestilte en prøvetur hos {dealer} for et stykke tid siden. Vi vil gerne vide, hvor du står nu: overvejer du stadig en ny bil, og må forhandleren kontakte dig? Det tager et minut.",
        "reminder_intro": "For en uge siden spurgte vi til din prøvetur hos {dealer}. Hvis du har et minut, vil vi stadig gerne høre fra dig.",
        "button": "Besvar de to spørgsmål",
        "valid": "Linket er personligt og virker til og med {day}.",
        "footer": "Du modtager denne mail, fordi du bad {dealer} om en prøvetur og sagde ja til at blive kontaktet på e-mail. Ønsker du ikke den slags mails, kan du blot se bort fra den: du får højst én påmindelse.",
    },
    "de": {
        "subject": "Ihre Probefahrt bei {dealer}: zwei kurze Fragen",
        "reminder_subject": "Erinnerung: Ihre Probefahrt bei {dealer}",
        "greeting": "Guten Tag {name},",
        "greeting_plain": "Guten Tag,",
        "intro": "Vielen Dank, dass Sie vor einiger Zeit eine Probefahrt bei {dealer} vereinbart haben. Wir möchten gern wissen, wo Sie heute stehen: Denken Sie noch über ein neues Auto nach, und darf das Autohaus Sie kontaktieren? Es dauert eine Minute.",
        "reminder_intro": "Vor einer Woche haben wir Sie nach Ihrer Probefahrt bei {dealer} gefragt. Wenn Sie eine Minute Zeit haben, freuen wir uns weiterhin über Ihre Antwort.",
        "button": "Die zwei Fragen beantworten",
        "valid": "Der Link ist persönlich und gilt bis zum {day}.",
        "footer": "Sie erhalten diese E-Mail, weil Sie bei {dealer} eine Probefahrt angefragt und der Kontaktaufnahme per E-Mail zugestimmt haben. Möchten Sie solche E-Mails nicht, ignorieren Sie diese einfach: Sie erhalten höchstens eine Erinnerung.",
    },
}


def invitation_mail(inv: LinkedInvitation, link: str, expires: datetime, reminder: bool = False) -> Mail:
    """Customer text (the name) is escaped in the HTML by the template's autoescape."""
    code = inv.lang if inv.lang in TEXTS else "en"
    t = TEXTS[code]
    dealer = " ".join(inv.dealer_name.split())
    subject = t["reminder_subject" if reminder else "subject"].format(dealer=dealer)
    day = expires.astimezone(ZoneInfo(inv.time_zone)).strftime(DAY[code])  # on the dealer's clock
    context = {
        "lang": code,
        "subject": subject,
        "greeting": t["greeting"].format(name=inv.name) if inv.name and not inv.anonymized else t["greeting_plain"],
        "intro": t["reminder_intro" if reminder else "intro"].format(dealer=dealer),
        "button": t["button"],
        "link": link,
        "valid": t["valid"].format(day=day),
        "footer": t["footer"].format(dealer=dealer),
    }
    return Mail(subject, ENV.get_template("invitation.txt.j2").render(context), ENV.get_template("invitation.html.j2").render(context))

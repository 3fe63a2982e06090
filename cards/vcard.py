"""The business card as a vCard 3.0 (保存联系人), built with vobject, which escapes and folds every field."""
import vobject

from cards.models import BusinessCard


def card_vcard(*, card: BusinessCard, phone_shown: bool, page_url: str) -> str:
    """The card's name, company, title, WeChat id and page; its phone only when `phone_shown` (the caller decides,
    by the card API's rule: a visitor logged in with a phone number)."""
    contact = vobject.vCard()
    contact.add("n").value = vobject.vcard.Name(family=card.name)
    contact.add("fn").value = card.name
    if card.company:
        contact.add("org").value = [card.company]
    if card.title:
        contact.add("title").value = card.title
    if phone_shown and card.phone:
        tel = contact.add("tel")
        tel.value = card.phone
        tel.type_param = "CELL"
    notes = []
    if card.wechat_id:
        notes.append(f"微信 WeChat: {card.wechat_id}")
    if not phone_shown and card.phone:
        notes.append(f"电话 phone: {card.phone_masked}（登录并授权手机号后可保存完整号码 log in with your phone "
                     "number to save it in full）")
    if notes:
        contact.add("note").value = "\n".join(notes)
    contact.add("url").value = page_url
    return contact.serialize()

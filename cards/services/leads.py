"""Leads (线索) and customers' reps: stages, follow-up notes, next actions, reassignment.

A rep sees and changes only their own leads; a store's manager (or owner) sees the store's and may reassign a
customer to another rep of the store (audited).
"""
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from cards.models import CustomerAssignment, CustomerAssignmentChange, Lead, LeadNote
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.events import record_event
from mall.models import Store, StoreStaff


def store_manager_of(*, user, store_id: int) -> bool:
    return (Store.objects.filter(pk=store_id, owner=user).exists()
            or StoreStaff.objects.filter(store_id=store_id, user=user, role=StoreStaff.Role.MANAGER).exists())


def lead_visible(*, user, lead_id: int) -> Lead:
    """The lead if `user` owns it or manages its store; NotFound otherwise (other reps' leads do not exist)."""
    lead = Lead.objects.filter(pk=lead_id).select_related("card").first()
    if lead is None or not (lead.owner_id == user.pk or store_manager_of(user=user, store_id=lead.store_id)):
        raise NotFound(_("no such lead"), code="lead_not_found")
    return lead


def lead_update(*, user, lead_id: int, stage: str | None = None, note: str = "", next_action_at=None,
                clear_next_action: bool = False) -> Lead:
    """The rep moves a lead: a stage, a follow-up note, the next action date. Only the lead's owner writes."""
    if stage is not None and stage not in Lead.Stage.values:
        raise ValidationFailed(_("unknown lead stage"), code="stage_invalid", detail={"allowed": Lead.Stage.values})
    if stage is None and not note.strip() and next_action_at is None and not clear_next_action:
        raise ValidationFailed(_("nothing to change"), code="nothing_to_change")
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
        if lead is None or lead.owner_id != user.pk:
            if lead is not None and store_manager_of(user=user, store_id=lead.store_id):
                raise PermissionDenied(_("only the lead's rep follows it up"), code="not_lead_owner")
            raise NotFound(_("no such lead"), code="lead_not_found")
        previous = lead.stage
        fields = ["updated_at"]
        if stage is not None and stage != previous:
            lead.stage = stage
            fields.append("stage")
        if next_action_at is not None or clear_next_action:
            lead.next_action_at = None if clear_next_action else next_action_at
            fields.append("next_action_at")
        lead.save(update_fields=fields)
        if note.strip() or "stage" in fields:
            LeadNote.objects.create(lead=lead, author=user, text=note.strip()[:2000],
                                    stage_from=previous if "stage" in fields else "",
                                    stage_to=lead.stage if "stage" in fields else "")
        if "stage" in fields:
            record_event(kind="lead_stage_changed", actor=user, target=lead,
                         payload={"lead_id": lead.pk, "from_stage": previous, "to_stage": lead.stage})
    return lead


def customer_reassign(*, manager, store_id: int, customer_id: int, to_rep_id: int, reason: str
                      ) -> CustomerAssignment:
    """A store manager gives a customer to another rep of the store; the change is audited."""
    if not store_manager_of(user=manager, store_id=store_id):
        raise PermissionDenied(_("only the store's manager reassigns customers"), code="not_store_manager")
    if not reason.strip():
        raise ValidationFailed(_("say why the customer moves"), code="reason_required")
    store = Store.objects.get(pk=store_id)
    if not (store.owner_id == to_rep_id or StoreStaff.objects.filter(store_id=store_id, user_id=to_rep_id).exists()):
        raise ValidationFailed(_("the new rep is not on this store's staff"), code="rep_not_in_store")
    with transaction.atomic():
        assignment = CustomerAssignment.objects.select_for_update().filter(
            store_id=store_id, customer_id=customer_id).first()
        if assignment is None:
            raise NotFound(_("this customer has no rep in the store yet"), code="assignment_not_found")
        if assignment.rep_id == to_rep_id:
            return assignment
        previous = assignment.rep_id
        assignment.rep_id, assignment.source = to_rep_id, "manual"
        assignment.save(update_fields=["rep", "source", "updated_at"])
        CustomerAssignmentChange.objects.create(assignment=assignment, from_rep_id=previous, to_rep_id=to_rep_id,
                                                changed_by=manager, reason=reason.strip()[:200])
        record_event(kind="customer_reassigned", actor=manager, target=assignment,
                     payload={"store_id": store_id, "customer_id": customer_id, "from_rep": previous,
                              "to_rep": to_rep_id, "reason": reason.strip()[:200]})
    return assignment

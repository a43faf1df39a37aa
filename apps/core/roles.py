"""Membership roles, ordered: each role can do everything the roles below it can."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    REVIEWER = "reviewer", "Reviewer"
    MEMBER = "member", "Member"


RANK = {Role.MEMBER: 10, Role.REVIEWER: 20, Role.ADMIN: 30, Role.OWNER: 40}


def role_at_least(role: str, required: str) -> bool:
    return RANK[Role(role)] >= RANK[Role(required)]

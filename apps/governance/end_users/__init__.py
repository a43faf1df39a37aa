"""End-user data rights: export and delete everything held about one ``end_user_id``."""

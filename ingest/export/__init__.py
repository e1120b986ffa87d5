"""Disclosure and archive packages (issue 17): bags of originals and view copies, receipts."""

"""The reads tracking's API serves: leadership reports (suppressed before they leave), published."""

"""The rules: lifecycle, working-day calendar, deadlines, access policy, and the use cases."""

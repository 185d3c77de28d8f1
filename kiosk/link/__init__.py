"""The terminal's link to the back office: the durable outbox, the uploader process, enrolment,
signed updates (terminal side) and the progress client."""

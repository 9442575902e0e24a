"""tms_scheduler: course booking, attendance and reminders for a TMS programme."""

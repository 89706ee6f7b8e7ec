"""The detectors behind `assistant.redact`: digits in any dress, numeric identifiers, and personal data
written in words. Use `assistant.redact`; these modules are its parts."""

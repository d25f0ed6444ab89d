"""What an auditor reads: the register (tableau de suivi) as JSON, CSV and XLSX, and the annual report."""

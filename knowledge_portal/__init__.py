"""The GCC e-government knowledge portal: bilingual (Arabic first, English)."""

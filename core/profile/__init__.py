"""我的档案 for every tenant: ID-card images, portrait and the (staff-managed) mobile number."""

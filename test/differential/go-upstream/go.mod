module kratos-ext-authz/differential-upstream

go 1.22

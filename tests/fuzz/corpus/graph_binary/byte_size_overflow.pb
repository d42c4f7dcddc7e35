
%
cConst"
valueB
€€€€€€€€
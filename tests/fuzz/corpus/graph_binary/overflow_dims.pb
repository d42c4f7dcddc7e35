
%
cConst"
valueB
€€€€€€€€@